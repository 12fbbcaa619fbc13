"""What the video tab shows after an action: the frame picture, legend and status line.

Pure functions of a session slot (``ui.video.controller.VideoSlot``): no model calls, no
locking (the controller calls them under the session lock). The frame picture is for the
API and the page; it is enlarged when the clip is small (``MIN_DISPLAY_SIDE``) and reduced
when it is large (``ui.canvas.raster.MAX_DISPLAY_SIDE``); prompts, masks and downloads always use
the clip's own pixels.
"""

from __future__ import annotations

import functools
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
def write_frame_files(frames: Any, files: Any) -> List[Dict[str, Any]]:
    """Every frame of the clip as a display-size JPEG in the session's folder, as canvas file
    references: the browser fetches each once and plays the clip from them."""
    refs = []
    for i in range(len(frames)):
        path = files.path(f"{i:05d}.jpg", "frames")
        Image.fromarray(raster.make_display(frames.frame(i)).pixels).save(path, quality=FRAME_JPEG_QUALITY)
        refs.append(file_ref(path))
    return refs


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
    of ``frames`` (None: the frame shown; ``"all"``: every frame with masks or prompts).
    ``clip``: the whole scene from scratch (the frames to play too): after a new clip, a
    reset, a removed object, or a page reload."""
    st = slot.state
    if slot.clip is None or not st.num_frames:
        return CanvasUpdate(**kw)
    if clip or frames == "all":
        fs = sorted(set(st.masks.frames()) | set(st.all_prompted_frames()) | {st.last_frame})
    elif frames is None:
        fs = [st.last_frame]
    else:
        fs = sorted(set(int(f) for f in frames))
    colors = {o.obj_id: o.color for o in st.objects}
    masks = mask_urls(packed_masks(st, fs), colors)
    prompts = {f: {o.obj_id: prompt_dict(o.on(f)) for o in st.objects} for f in fs}
    common = dict(objects=canvas_objects(st), selected=st.active_id, masks=masks, prompts=prompts)
    common.update(kw)
    if clip:
        common.setdefault("frame", st.last_frame)
        return CanvasUpdate.clip(slot.frame_urls, slot.clip.fps, st.width, st.height, **common)
    return CanvasUpdate(**common)
