"""What Python sends the canvas: one small update message per event, and its encoders.

The canvas's value is not a picture but a *change*: ``CanvasUpdate(...).to_value()`` lists
only what is new (the current object's mask, its prompts, a hint), and the browser merges it
into the scene it keeps. The picture itself travels once per image (``picture`` / ``video``),
so a click costs a mask PNG of a few kilobytes instead of a re-encoded full-size overlay.

URLs may be ``data:`` URLs (the encoders here) or Gradio file references (``file_ref``): a
``{"path": ..., "meta": {"_type": "gradio.FileData"}}`` dict anywhere in the message is moved
into Gradio's cache by Gradio itself and reaches the browser with a servable ``url``.
"""

from __future__ import annotations

import base64
import io
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ui.canvas.raster import color_hex, display_scale, make_display, mask_edges, object_color, resize_mask

UrlLike = Union[str, Dict[str, Any]]
_SEQ = itertools.count(1)
_REV_LOCK = threading.Lock()
_last_rev = 0


def next_revision() -> int:
    """A strictly increasing stamp (microseconds of the system's monotonic clock, which a
    restarted server continues): when an update is built, under the session's lock, it dates
    the state it shows. Two gestures answered by two workers may reach the browser in either
    order; the canvas keeps, per mask, prompt and list, the newest revision it has drawn and
    ignores an older one arriving late (a stale mask would otherwise replace a newer one)."""
    global _last_rev
    with _REV_LOCK:
        _last_rev = max(_last_rev + 1, time.monotonic_ns() // 1000)
        return _last_rev


def file_ref(path: str) -> Dict[str, Any]:
    """A server file for the canvas (a video frame on disk): Gradio serves it and fills in ``url``."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def _data_url(img: Image.Image, fmt: str, **save: Any) -> str:
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def display_hw(height: int, width: int) -> Tuple[int, int]:
    """Size (h, w) at which masks and label maps are sent: the display size of ``ui.common.overlay``."""
    s = display_scale(height, width)
    return (max(1, round(height * s)), max(1, round(width * s))) if s < 1.0 else (height, width)


def picture_url(image: np.ndarray, quality: int = 90) -> str:
    """The display copy of an HxWx3 uint8 picture as a JPEG data URL (sent once per image)."""
    return _data_url(Image.fromarray(make_display(image).pixels), "JPEG", quality=quality)


#: Opacity of a mask's inside over the picture (its outline is opaque).
MASK_FILL_ALPHA = 140


def mask_png(mask: np.ndarray, color: Union[Sequence[int], str],
             hw: Optional[Tuple[int, int]] = None) -> str:
    """A boolean mask as a 2-bit palette PNG data URL in the object's ``color``: the inside
    translucent, the outline (``ui.canvas.raster.mask_edges``) opaque, the rest transparent.

    ``hw`` is the size to send (default: the display size of the mask's own size). The
    browser draws it as it is: colouring here costs nothing (the palette), while tinting a
    bitmap in the browser costs whole-picture canvas passes per mask (measured 100-300 ms a
    click on the loaded 2-core CPU with Chromium's software canvas).
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"expected an HxW mask, got shape {m.shape}")
    rgb = _rgb(color)
    m = resize_mask(m.astype(bool, copy=False), hw or display_hw(*m.shape), nearest=True)
    idx = m.astype(np.uint8)
    idx[mask_edges(m)] = 2
    img = Image.fromarray(idx, mode="L").convert("P")
    img.putpalette([0, 0, 0, *rgb, *rgb])
    return _data_url(img, "PNG", transparency=bytes([0, MASK_FILL_ALPHA, 255]), bits=2)


def _rgb(color: Union[Sequence[int], str]) -> Tuple[int, int, int]:
    if isinstance(color, str):
        h = color.lstrip("#")
        if len(h) != 6:
            raise ValueError(f"expected a #rrggbb colour, got {color!r}")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    r, g, b = (int(c) for c in tuple(color)[:3])
    return r, g, b


def label_map_png(masks: Sequence[np.ndarray], hw: Optional[Tuple[int, int]] = None) -> str:
    """Many masks (segment everything) as one PNG: pixel value ``R + 256 * G`` is region
    index + 1 (0 = none). Larger masks are laid down first so small parts stay on top."""
    if not len(masks):
        raise ValueError("label_map_png needs at least one mask")
    if len(masks) >= 65535:
        raise ValueError("too many regions for a 16-bit label map")
    size = hw or display_hw(*np.asarray(masks[0]).shape)
    labels = np.zeros(size, dtype=np.int32)
    for i in sorted(range(len(masks)), key=lambda k: -int(np.count_nonzero(masks[k]))):
        labels[resize_mask(np.asarray(masks[i]), size)] = i + 1
    rgb = np.zeros(size + (3,), dtype=np.uint8)
    rgb[..., 0] = labels & 255
    rgb[..., 1] = labels >> 8
    return _data_url(Image.fromarray(rgb), "PNG")


@dataclass(frozen=True)
class CanvasObject:
    """An object as the canvas shows it: its id, its colour (use the same for its ``mask_png``),
    a short label (named when it is selected) and a ``tag``: a chip drawn on the picture at
    its box or first point (e.g. what Find called it), none when empty."""

    id: int
    color: str
    label: str = ""
    tag: str = ""

    @classmethod
    def numbered(cls, object_id: int, index: int) -> "CanvasObject":
        """The ``index``-th object (0-based) in the app's palette (``ui.canvas.raster.object_color``)."""
        return cls(object_id, color_hex(object_color(index)), f"object {object_id}")


@dataclass
class CanvasUpdate:
    """One change for the canvas; every field left as None is not sent and stays as it was.

    - ``picture``: a new image: ``{"url", "width", "height"}`` (original size); clears masks,
      prompts, candidates and regions. Use ``CanvasUpdate.image(...)``.
    - ``video``: a new clip: ``{"frames": [url or None, ...], "fps", "width", "height"}``.
      ``frames`` later: ``{index: url}`` adds frames that became available.
    - ``objects``: the full list of ``CanvasObject``; ``selected``: the object id gestures go to.
    - ``masks``: ``{frame: {object_id: url or None}}`` merged in (None removes a mask).
    - ``prompts``: ``{frame: {object_id: {"points": [[x, y, label], ...], "box": [..] or None}}}``
      replacing the listed (frame, object) prompts.
    - ``candidates``: ``[{"url", "score"}, ...]`` for the selected object, ``candidate``: chosen index.
    - ``regions``: ``{"url": label_map_png(...), "count": n}``, or ``{}`` to clear them.
    - ``frame``: move the player to this frame. ``hint``: a short message on the canvas.
    - ``busy``: while set (a message), gestures show it instead of being sent; ``""`` clears it.
    - ``preparing``: ``{"text": "Preparing image…", "eta_s": seconds or None}`` while the server
      gets the picture ready (model loaded, image encoded): the canvas shows it with a progress
      bar (towards ``eta_s``, the last encode's time) and still sends gestures, which the server
      answers once it is ready; ``{}`` clears it (so does any answer carrying masks). Use
      ``preparing_for(...)``.
    - ``ack``: the ``seq`` of the last gesture this update answers (drops provisional marks).
    - ``rev``: when the update was built (``next_revision``); build it under the session's lock
      so that it dates the state it shows.
    """

    picture: Optional[Dict[str, Any]] = None
    video: Optional[Dict[str, Any]] = None
    frames: Optional[Mapping[int, UrlLike]] = None
    objects: Optional[Sequence[CanvasObject]] = None
    selected: Optional[int] = None
    masks: Optional[Mapping[int, Mapping[int, Optional[UrlLike]]]] = None
    prompts: Optional[Mapping[int, Mapping[int, Mapping[str, Any]]]] = None
    candidates: Optional[Sequence[Mapping[str, Any]]] = None
    candidate: Optional[int] = None
    regions: Optional[Mapping[str, Any]] = None
    frame: Optional[int] = None
    hint: Optional[str] = None
    busy: Optional[str] = None
    preparing: Optional[Mapping[str, Any]] = None
    ack: Optional[int] = None
    rev: int = field(default_factory=next_revision)
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def image(cls, url: UrlLike, width: int, height: int, **kw: Any) -> "CanvasUpdate":
        return cls(picture={"url": url, "width": int(width), "height": int(height)}, **kw)

    @classmethod
    def clip(cls, frames: Sequence[Optional[UrlLike]], fps: float, width: int, height: int,
             count: Optional[int] = None, frame_refs: Optional[Mapping[int, UrlLike]] = None,
             **kw: Any) -> "CanvasUpdate":
        """A new clip: its frame pictures all at once (``frames``), or, for a clip the page
        holds a window of, its frame ``count`` and the window's pictures (``frame_refs``, by
        index; the page asks for others with its ``window`` event)."""
        video: Dict[str, Any] = {"frames": list(frames), "fps": float(fps), "width": int(width),
                                 "height": int(height)}
        if count is not None:
            video["count"] = int(count)
        return cls(video=video, frames=dict(frame_refs) if frame_refs is not None else None, **kw)

    def to_value(self) -> Dict[str, Any]:
        """The JSON message; ``seq`` is unique so that two equal updates both reach the browser."""
        out: Dict[str, Any] = {"v": 1, "seq": next(_SEQ), "rev": self.rev}
        for name in ("picture", "video", "selected", "candidate", "frame", "hint", "busy", "ack",
                     "regions"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.preparing is not None:
            out["preparing"] = dict(self.preparing) or None
        if self.frames is not None:
            out["frames"] = {str(int(k)): v for k, v in self.frames.items()}
        if self.objects is not None:
            out["objects"] = [{"id": o.id, "color": o.color, "label": o.label, "tag": o.tag} for o in self.objects]
        if self.masks is not None:
            out["masks"] = {str(int(f)): {str(int(o)): u for o, u in per.items()} for f, per in self.masks.items()}
        if self.prompts is not None:
            out["prompts"] = {str(int(f)): {str(int(o)): _prompt(p) for o, p in per.items()}
                              for f, per in self.prompts.items()}
        if self.candidates is not None:
            out["candidates"] = [dict(c) for c in self.candidates]
        out.update(self.extra)
        return out


def preparing_for(what: str = "image", eta_s: Optional[float] = None) -> Dict[str, Any]:
    """The ``preparing`` value for "Preparing <what>…" with an estimate in seconds (None: unknown)."""
    return {"text": f"Preparing {what}…", "eta_s": None if eta_s is None else round(float(eta_s), 2)}


def _prompt(p: Mapping[str, Any]) -> Dict[str, Any]:
    points: List[List[float]] = [[float(x), float(y), int(lab)] for x, y, lab in p.get("points", ())]
    box = p.get("box")
    return {"points": points, "box": None if box is None else [float(v) for v in box]}
