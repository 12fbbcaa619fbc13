"""What the canvas tells Python: event names and their typed payloads.

The browser side (``canvas.js``) calls ``trigger(name, data)``; Gradio hands ``data`` to the
listener as ``gr.EventData`` (``evt._data``). Nothing a browser sends is trusted: each parser
below checks types and ranges and raises ``CanvasPayloadError`` (a ``ValueError``) with a
short message that a tab can show as a hint.

Coordinates are in ORIGINAL image pixels, pixel centres at integers (the convention of
``ui.canvas.raster.DisplayImage.to_original`` and of ``gr.Image.select``): the top-left pixel is
(0, 0) and the bottom-right one is (width - 1, height - 1).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

#: Every event the canvas emits, in the order the module docstring of ``component`` lists them.
EVENT_NAMES: Tuple[str, ...] = (
    "point", "box", "undo", "new_object", "candidate", "delete_object",
    "select_object", "pick_region", "seek", "upload", "stroke", "history", "window",
)

#: Most points a stroke event may carry (the browser thins a long drag below this).
MAX_STROKE_POINTS = 4096


class CanvasPayloadError(ValueError):
    """A canvas event whose data is missing, of the wrong type or out of range."""


def event_data(evt: Any) -> Mapping[str, Any]:
    """The payload dict of a ``gr.EventData`` (or a plain mapping, for tests and the API)."""
    data = getattr(evt, "_data", evt)
    if not isinstance(data, Mapping):
        raise CanvasPayloadError("canvas event without data")
    return data


def _number(data: Mapping[str, Any], key: str) -> float:
    v = data.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CanvasPayloadError(f"canvas event: '{key}' must be a finite number, got {v!r}")
    return float(v)


def _int(data: Mapping[str, Any], key: str, default: Optional[int] = None) -> Optional[int]:
    v = data.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
        raise CanvasPayloadError(f"canvas event: '{key}' must be an integer, got {v!r}")
    return int(v)


def _clamp(v: float, hi: Optional[int]) -> float:
    v = max(0.0, v)
    return v if hi is None else min(v, float(hi - 1))


@dataclass(frozen=True)
class Gesture:
    """Fields every picture gesture carries.

    ``seq`` numbers the gestures of one page (pass it back as ``CanvasUpdate(ack=seq)`` so the
    browser can drop its provisional marks), ``frame`` is the frame shown (0 for an image) and
    ``object_id`` the object selected in the browser when the gesture was made (None: none).
    """

    seq: int
    frame: int
    object_id: Optional[int]


def _gesture(data: Mapping[str, Any]) -> dict:
    frame = _int(data, "frame", 0) or 0
    if frame < 0:
        raise CanvasPayloadError("canvas event: 'frame' must be >= 0")
    return {"seq": _int(data, "seq", 0) or 0, "frame": frame, "object_id": _int(data, "object", None)}


@dataclass(frozen=True)
class PointEvent(Gesture):
    """A click: ``label`` 1 = foreground (left click), 0 = background (right/Shift/long press)."""

    x: float
    y: float
    label: int

    @classmethod
    def parse(cls, evt: Any, size: Optional[Tuple[int, int]] = None) -> "PointEvent":
        """``size`` = (width, height) of the original image: coordinates are clamped into it."""
        d = event_data(evt)
        w, h = size if size is not None else (None, None)
        label = _int(d, "label")
        if label not in (0, 1):
            raise CanvasPayloadError(f"canvas event: 'label' must be 0 or 1, got {label!r}")
        return cls(x=_clamp(_number(d, "x"), w), y=_clamp(_number(d, "y"), h), label=label, **_gesture(d))

    @property
    def as_point(self) -> Tuple[float, float, int]:
        """The ``ui.common.prompts.Point`` tuple (x, y, label)."""
        return (self.x, self.y, self.label)


@dataclass(frozen=True)
class BoxEvent(Gesture):
    """A press-drag-release box, corners sorted (x0 <= x1, y0 <= y1) and clamped to the image."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def parse(cls, evt: Any, size: Optional[Tuple[int, int]] = None) -> "BoxEvent":
        d = event_data(evt)
        w, h = size if size is not None else (None, None)
        xs = sorted(_clamp(_number(d, k), w) for k in ("x0", "x1"))
        ys = sorted(_clamp(_number(d, k), h) for k in ("y0", "y1"))
        return cls(x0=xs[0], y0=ys[0], x1=xs[1], y1=ys[1], **_gesture(d))

    @property
    def as_box(self) -> Tuple[float, float, float, float]:
        """The ``ui.common.prompts.Box`` tuple (x0, y0, x1, y1)."""
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class StrokeEvent(Gesture):
    """A brush or eraser stroke (tools B and E): ``points`` [(x, y), ...] in original pixels
    (clamped into the image), ``radius`` in original pixels, ``erase`` for the eraser."""

    points: Tuple[Tuple[float, float], ...]
    radius: float
    erase: bool

    @classmethod
    def parse(cls, evt: Any, size: Optional[Tuple[int, int]] = None) -> "StrokeEvent":
        d = event_data(evt)
        w, h = size if size is not None else (None, None)
        raw = d.get("points")
        if not isinstance(raw, (list, tuple)) or not raw:
            raise CanvasPayloadError("canvas event: a stroke needs a list of points")
        if len(raw) > MAX_STROKE_POINTS:
            raise CanvasPayloadError(f"canvas event: a stroke has at most {MAX_STROKE_POINTS} points")
        points = []
        for p in raw:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise CanvasPayloadError("canvas event: stroke points must be [x, y] pairs")
            q = {"x": p[0], "y": p[1]}
            points.append((_clamp(_number(q, "x"), w), _clamp(_number(q, "y"), h)))
        radius = _number(d, "radius")
        if not 0 < radius <= 1000:
            raise CanvasPayloadError(f"canvas event: brush radius must be in (0, 1000] pixels, got {radius!r}")
        erase = d.get("erase", False)
        if not isinstance(erase, bool):
            raise CanvasPayloadError("canvas event: 'erase' must be true or false")
        return cls(points=tuple(points), radius=radius, erase=erase, **_gesture(d))


@dataclass(frozen=True)
class HistoryEvent:
    """Ctrl+Z (``step`` -1: undo the last change, whatever it was) or Ctrl+Shift+Z / Ctrl+Y
    (+1: redo it)."""

    step: int
    frame: int

    @classmethod
    def parse(cls, evt: Any) -> "HistoryEvent":
        d = event_data(evt)
        step = _int(d, "step")
        if step not in (-1, 1):
            raise CanvasPayloadError(f"canvas event: 'step' must be -1 or 1, got {step!r}")
        return cls(step=step, frame=_int(d, "frame", 0) or 0)


@dataclass(frozen=True)
class IndexEvent:
    """``candidate`` (0, 1, 2), ``pick_region`` (0-based region) or ``seek`` (frame)."""

    index: int
    frame: int

    @classmethod
    def parse(cls, evt: Any, upper: Optional[int] = None) -> "IndexEvent":
        """``upper``: the number of valid indices (candidates, regions or frames), if known."""
        d = event_data(evt)
        i = _int(d, "index")
        if i is None or i < 0 or (upper is not None and i >= upper):
            raise CanvasPayloadError(f"canvas event: index {i!r} out of range")
        return cls(index=i, frame=_int(d, "frame", 0) or 0)


@dataclass(frozen=True)
class WindowEvent:
    """``window``: the page wants frames [start, end) of the clip ``clip_key`` (their pictures
    and masks) because its playhead came near them."""

    start: int
    end: int
    clip_key: Optional[int]

    @classmethod
    def parse(cls, evt: Any) -> "WindowEvent":
        d = event_data(evt)
        start, end = _int(d, "start"), _int(d, "end")
        if start is None or end is None or start < 0 or end < start:
            raise CanvasPayloadError(f"canvas event: window {start!r}..{end!r} is not a range")
        return cls(start=start, end=end, clip_key=_int(d, "clip_key"))


@dataclass(frozen=True)
class ObjectEvent:
    """``undo``, ``new_object``, ``delete_object``, ``select_object``: the object concerned
    (None when the browser had none selected) and the frame shown."""

    object_id: Optional[int]
    frame: int

    @classmethod
    def parse(cls, evt: Any) -> "ObjectEvent":
        d = event_data(evt)
        return cls(object_id=_int(d, "object", None), frame=_int(d, "frame", 0) or 0)


@dataclass(frozen=True)
class UploadEvent:
    """A file dropped, pasted or browsed on the canvas, already uploaded by Gradio's client.

    ``path`` is the server-side file; it is accepted only inside Gradio's upload folder, so a
    forged event cannot make the app open an arbitrary file.
    """

    path: str
    name: str

    @classmethod
    def parse(cls, evt: Any, upload_dir: Optional[str] = None) -> "UploadEvent":
        from gradio.utils import get_upload_folder

        d = event_data(evt)
        path, name = d.get("path"), d.get("name", "")
        if not isinstance(path, str) or not path:
            raise CanvasPayloadError("upload failed: no file arrived")
        root = os.path.realpath(upload_dir or get_upload_folder())
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
            raise CanvasPayloadError("upload failed: the file is not in the upload folder")
        return cls(path=real, name=str(name)[:200])
