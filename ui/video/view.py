"""What the video tab shows after an action: the frame picture, legend and status line.

Pure functions of a session slot (``ui.video.controller.VideoSlot``): no model calls, no
locking (the controller calls them under the session lock). The frame picture is for the
API and the page; it is enlarged when the clip is small (``MIN_DISPLAY_SIDE``) and reduced
when it is large (``ui.canvas.raster.MAX_DISPLAY_SIDE``); prompts, masks and downloads always use
the clip's own pixels.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ui.common import overlay
from ui.canvas import raster
from ui.canvas.scene import CanvasObject, CanvasUpdate, file_ref, mask_png
from ui.video.render import Layer, render_frame
from ui.video.slot import VideoSlot

#: Frames whose long side is shorter than this are shown enlarged (small clips are hard to
#: click on), at most four times (``ui.canvas.raster.display_scale``).
MIN_DISPLAY_SIDE = 640


@dataclass(frozen=True)
class FramePicture:
    """What the frame picture (masks and prompts drawn on the frame) is made of, taken under
    the session lock: the frame store and packed masks do not change once made, prompts are
    frozen. It is drawn only when asked for: the named API endpoints show it, the canvas's
    gestures (every click) do not need it."""

    frames: Any  # the clip's frame store
    frame: int
    masks: Tuple[Tuple[Any, Tuple[int, int, int]], ...]  # (PackedMask, colour) of each object
    prompts: Tuple[Tuple[Any, Tuple[int, int, int]], ...]  # (FramePrompts, colour) of each prompted object

    def draw(self) -> np.ndarray:
        shown = [Layer(pm.unpack(), color) for pm, color in self.masks]
        display = raster.make_display(render_frame(self.frames.frame(self.frame), shown, "overlay"),
                                       min_side=MIN_DISPLAY_SIDE)
        canvas = display.pixels
        for p, color in self.prompts:
            canvas = overlay.draw_prompts(canvas, display, p.points, p.box, box_color=color)
        return canvas


@dataclass
class VideoView:
    """Everything the video tab displays after an action."""

    picture: Optional[FramePicture]
    frame: int = 0
    num_frames: int = 0
    objects: List[Tuple[str, int]] = field(default_factory=list)
    active_id: Optional[int] = None
    legend: str = ""
    status: str = ""
    warning: str = ""  # shown as a toast as well (limits applied to an upload)

    @functools.cached_property
    def canvas(self) -> Optional[np.ndarray]:
        """The frame picture, drawn on first use (None without a clip)."""
        return None if self.picture is None else self.picture.draw()


#: What the canvas says to a gesture made while tracking runs (the browser says it at once).
TRACKING_BUSY = "Tracking is running: press Cancel to correct"
#: JPEG quality of the frames the canvas plays (display size, written once per clip).
FRAME_JPEG_QUALITY = 85


def frame_display_scale(height: int, width: int) -> float:
    """Display pixels per clip pixel of the frame picture, as ``ui.canvas.raster.make_display``
    realises it (clicks on the picture map back with it)."""
    s = raster.display_scale(height, width, min_side=MIN_DISPLAY_SIDE)
    return 1.0 if s == 1.0 else max(1, round(width * s)) / float(width)


def empty_view(limits_text: str, note: str = "") -> VideoView:
    return VideoView(None, status=note or f"Upload a video or pick an example to start ({limits_text}).")


def frame_view(slot: VideoSlot, frame: int, model: str, limits_text: str, note: str = "") -> VideoView:
    """The page after an action on ``frame``: picture with masks and prompts, legend, status."""
    st = slot.state
    if slot.clip is None or slot.frames is None:
        return empty_view(limits_text, note)
    frame = min(max(int(frame), 0), st.num_frames - 1)
    masks = tuple((pm, o.color) for o in st.objects
                  if (pm := st.masks.get(frame, o.obj_id)) is not None and pm.area)
    prompts = [(o.on(frame), o.color) for o in st.objects if not o.on(frame).is_empty]
    picture = FramePicture(slot.frames, frame, masks, tuple(prompts))
    objects = [(f"{o.name} · id {o.obj_id}", o.obj_id) for o in st.objects]
    return VideoView(picture, frame, st.num_frames, objects, st.active_id, legend_html(slot, frame),
                     status_text(slot, frame, model, note))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def legend_html(slot: VideoSlot, frame: int) -> str:
    """One line per object: colour, name, mask area on ``frame``, prompted frames."""
    st = slot.state
    if not st.objects:
        return "<div class='video-legend'><i>No objects yet: click on the frame to add one.</i></div>"
    rows = []
    for o in st.objects:
        packed = st.masks.get(frame, o.obj_id)
        here = "—" if packed is None else f"{packed.area:,} px"
        prompted = ", ".join(str(f) for f in o.prompted_frames[:12]) or "none"
        if len(o.prompted_frames) > 12:
            prompted += ", …"
        weight = "font-weight:600;" if o.obj_id == st.active_id else ""
        rows.append(
            f"<div style='{weight}margin:2px 0'><span style='display:inline-block;width:0.9em;height:0.9em;"
            f"border-radius:50%;background:{raster.color_hex(o.color)};vertical-align:middle;"
            f"margin-right:6px'></span>{_escape(o.name)} (id {o.obj_id}) · on this frame: {here} · "
            f"prompted frames: {prompted}</div>"
        )
    return "<div class='video-legend'>" + "".join(rows) + "</div>"


def status_text(slot: VideoSlot, frame: int, model: str, note: str = "") -> str:
    """The status line: frame, the selected object's prompts here, tracked frames, model."""
    st = slot.state
    parts = [f"Frame **{frame}** of 0–{st.num_frames - 1}"]
    obj = st.active
    if obj is not None:
        p = obj.on(frame)
        fg = sum(1 for q in p.points if q[2] == 1)
        bg = len(p.points) - fg
        desc = f"{fg} foreground / {bg} background click{'s' if bg != 1 else ''}"
        if p.box is not None:
            desc += " + box"
        if p.mask is not None:  # the painted mask is the prompt; clicks after it refine it
            desc = "painted mask" + (f" + {desc}" if p.has_clicks else "")
        parts.append(f"**{obj.name}** (id {obj.obj_id}): {desc} here")
    tracked = len(st.masks.frames())
    parts.append(f"{tracked}/{st.num_frames} frames with masks")
    line = " · ".join(parts)
    extra = []
    if slot.tracking:
        extra.append("tracking…")
    elif st.objects and st.all_prompted_frames() and st.tracking_stale:
        extra.append("prompts changed since the last tracking run: press Track to update the other frames")
    if slot.last_click_s is not None:
        extra.append(f"last prompt {slot.last_click_s:.2f} s")
    tail = f"  \n{st.width}×{st.height}, {slot.clip.fps:.4g} fps · {model}" if slot.clip else ""
    if extra:
        tail += " · " + " · ".join(extra)
    body = line + tail
    if slot.storage_note and slot.storage_note not in note:
        body += "  \n" + slot.storage_note
    return (note + "  \n" + body) if note else body


# ---------------------------------------------------------------------------- the canvas
#: The page holds a window of the clip around its playhead, never the whole clip: frames (and
#: their masks) from WINDOW_BEHIND before to WINDOW_AHEAD after it are sent with a new clip
#: and fetched as the playhead moves (the canvas's ``window`` event, in blocks of
#: WINDOW_BLOCK frames); the browser drops what falls far outside (ui/canvas/canvas.js).
WINDOW_BEHIND = 16
WINDOW_AHEAD = 48
WINDOW_BLOCK = 32
#: Most frames one ``window`` request may ask for (a refused larger one asks for nothing).
MAX_WINDOW_FRAMES = 256


class FrameFiles:
    """The canvas's display-size JPEG of each frame, written into the session's folder the
    first time the page asks for it (a long clip is never written out whole at upload)."""

    def __init__(self, frames: Any, files: Any) -> None:
        self.frames = frames
        self.files = files
        self._lock = threading.Lock()
        self._written: set = set()

    def __len__(self) -> int:
        return len(self.frames)

    def ref(self, i: int) -> Dict[str, Any]:
        """Frame ``i``'s file reference (Gradio serves it), written first if it is not yet."""
        path = self.files.path(f"{i:05d}.jpg", "frames")
        with self._lock:
            if i not in self._written or not os.path.exists(path):
                tmp = path + ".part.jpg"
                Image.fromarray(raster.make_display(self.frames.frame(i)).pixels).save(tmp, quality=FRAME_JPEG_QUALITY)
                os.replace(tmp, path)
                self._written.add(i)
        return file_ref(path)


def write_frame_files(frames: Any, files: Any) -> FrameFiles:
    """The clip's frame pictures for the canvas (written as the page asks for them)."""
    return FrameFiles(frames, files)


def window_around(frame: int, num_frames: int) -> Tuple[int, int]:
    """[start, end) of the frames the page holds around ``frame`` (see ``WINDOW_AHEAD``)."""
    return max(0, int(frame) - WINDOW_BEHIND), min(int(num_frames), int(frame) + WINDOW_AHEAD + 1)


def coverage(st: Any) -> Dict[int, List[List[int]]]:
    """Per object, the frames that have a mask as [start, end) runs: the timeline shows every
    tracked frame while the page holds the masks of only a window of them."""
    out: Dict[int, List[List[int]]] = {}
    frames_of: Dict[int, List[int]] = {o.obj_id: [] for o in st.objects}
    for f in st.masks.frames():
        for oid, pm in st.masks.frame(f).items():
            if oid in frames_of and pm is not None and pm.area:
                frames_of[oid].append(f)
    for oid, fs in frames_of.items():
        runs: List[List[int]] = []
        for f in fs:
            if runs and runs[-1][1] == f:
                runs[-1][1] = f + 1
            else:
                runs.append([f, f + 1])
        out[oid] = runs
    return out


def canvas_objects(st: Any) -> List[CanvasObject]:
    return [CanvasObject(o.obj_id, raster.color_hex(o.color), o.name) for o in st.objects]


def prompt_dict(p: Any) -> Dict[str, Any]:
    return {"points": [list(q) for q in p.points], "box": None if p.box is None else list(p.box)}


PackedFrames = Dict[int, Dict[int, Any]]  # frame -> object id -> PackedMask or None


def packed_masks(st: Any, frames: Iterable[int]) -> PackedFrames:
    """The stored (packed, immutable) masks of every object on ``frames``: taken under the
    session lock, encoded for the browser (``mask_urls``) without it."""
    return {f: {o.obj_id: st.masks.get(f, o.obj_id) for o in st.objects} for f in frames}


def mask_urls(packed: PackedFrames, colors: Mapping[int, Tuple[int, int, int]]) -> Dict[int, Dict[int, Optional[str]]]:
    """Packed masks as the canvas's palette PNGs (None: no mask there, the browser drops it)."""
    out: Dict[int, Dict[int, Optional[str]]] = {}
    for f, per in packed.items():
        out[f] = {}
        for oid, pm in per.items():
            out[f][oid] = mask_png(pm.unpack(), colors[oid]) if pm is not None and pm.area else None
    return out


def canvas_update(slot: VideoSlot, frames: Union[None, str, Sequence[int]] = None, clip: bool = False,
                  **kw: Any) -> CanvasUpdate:
    """What the canvas needs after an action: objects, selection, and the masks and prompts
    of ``frames`` (None: the frame shown; ``"all"``: the window of frames around the frame
    shown, with every prompt and the frames with masks (``coverage``), after a change that
    may touch any frame, an undo or redo included: the page drops the masks and prompts this
    update does not bring and asks for the window's masks again). ``clip``: the whole scene from scratch (the clip's frame count, the
    window's frame pictures): after a new clip, a reset, a removed object, or a page reload."""
    st = slot.state
    if slot.clip is None or not st.num_frames:
        return CanvasUpdate(**kw)
    whole = clip or frames == "all"
    if whole:
        shown = kw.get("frame")
        start, end = window_around(st.last_frame if shown is None else int(shown), st.num_frames)
        fs = sorted(set(range(start, end)) | set(st.all_prompted_frames()) | {st.last_frame})
        mask_fs = sorted(set(range(start, end)) | {st.last_frame})
    elif frames is None:
        fs = mask_fs = [st.last_frame]
    else:
        fs = mask_fs = sorted(set(int(f) for f in frames))
    colors = {o.obj_id: o.color for o in st.objects}
    masks = mask_urls(packed_masks(st, mask_fs), colors)
    prompts = {f: {o.obj_id: prompt_dict(o.on(f)) for o in st.objects} for f in fs}
    common = dict(objects=canvas_objects(st), selected=st.active_id, masks=masks, prompts=prompts)
    common.update(kw)
    if whole:
        common["extra"] = {"coverage": {str(k): v for k, v in coverage(st).items()}, "window": [start, end],
                           "clip_key": slot.clip_version}
    if clip:
        common.setdefault("frame", st.last_frame)
        refs = {i: slot.frame_urls.ref(i) for i in range(start, end)}
        return CanvasUpdate.clip([], slot.clip.fps, st.width, st.height, count=st.num_frames, frame_refs=refs,
                                 **common)
    return CanvasUpdate(**common)


def window_update(slot: VideoSlot, start: int, end: int, clip_key: Optional[int] = None) -> CanvasUpdate:
    """The frames [start, end) for the page's window: their pictures and every object's mask
    (None where there is none: the page drops what it had). Nothing when ``clip_key`` names an
    earlier clip (the page asked before a new clip replaced it)."""
    st = slot.state
    if slot.clip is None or not st.num_frames or (clip_key is not None and clip_key != slot.clip_version):
        return CanvasUpdate()
    start = max(0, min(int(start), st.num_frames))
    end = max(start, min(int(end), st.num_frames, start + MAX_WINDOW_FRAMES))
    fs = list(range(start, end))
    colors = {o.obj_id: o.color for o in st.objects}
    return CanvasUpdate(frames={i: slot.frame_urls.ref(i) for i in fs},
                        masks=mask_urls(packed_masks(st, fs), colors),
                        extra={"window": [start, end], "clip_key": slot.clip_version})
