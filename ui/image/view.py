"""What the image tab shows, made from a session's state: the two renderers and the status line.

The controller (``ui.image.controller``) changes state under the session's lock and then asks
its renderer for what to show; there are two:

* ``ApiRenderer`` -> ``ImageView``: the overlay drawn into a picture, candidate thumbnails,
  objects and status. This is what the named API endpoints return (``/add_point`` etc.), as
  they always did.
* ``CanvasRenderer`` -> ``CanvasView``: a ``ui.canvas.CanvasUpdate`` for the page's
  ``PromptCanvas``, holding only what changed since the page last heard from this session
  (``CanvasShown``): the picture once per image, a display-size palette PNG per object whose
  mask changed, the prompts, the candidates' scores. A click costs one small PNG, not a
  re-encoded picture.

No Gradio and no model here; overlay maths is in ``ui.common.overlay``, the canvas's message
format in ``ui.canvas.scene``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ui.common import overlay
from ui.canvas import raster
from ui.canvas.scene import CanvasObject, CanvasUpdate, display_hw, label_map_png, mask_png, picture_url
from ui.image.slot import ImageSlot
from ui.image.state import ImageObject, ImageSession
from ui.models.names import model_label
from ui.models.registry import ModelRegistry


#: Aspect ratio (long side / short side) above which the page says the picture is shown small.
EXTREME_ASPECT = 6.0

#: What a controller action returns: whatever its renderer makes (an ``ImageView`` from
#: ``ApiRenderer``, a ``CanvasView`` from ``CanvasRenderer``).
View = Any


# ---------------------------------------------------------------------------- API view
@dataclass
class Candidate:
    thumbnail: np.ndarray
    caption: str  # with a check mark on the chosen one (gallery)
    label: str  # without it (radio button)


@dataclass
class ImageView:
    """Everything the image tab's API endpoints return after an action."""

    canvas: Optional[np.ndarray]
    candidates: List[Candidate] = field(default_factory=list)
    chosen: Optional[int] = None
    objects: List[Tuple[str, int]] = field(default_factory=list)
    active: int = 0
    status: str = ""


def object_choices(st: ImageSession) -> List[Tuple[str, int]]:
    """(name, index) of every object, for the objects list."""
    return [(f"{o.name}{'' if o.history else ' (empty)'}", i) for i, o in enumerate(st.objects)]


class ApiRenderer:
    """The overlay picture and candidate thumbnails (what ``/add_point`` and friends return)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def __call__(self, slot: ImageSlot, note: str = "") -> ImageView:
        st = slot.state
        objects = object_choices(st)
        if not st.has_media or st.display is None:
            return ImageView(None, objects=objects, active=st.active,
                             status=note or "Upload an image or pick an example to start.")
        base = st.display.pixels
        # One object's mask unpacked at a time (each is a full-size array once unpacked).
        tinted = overlay.blend_masks(base, ((o.mask, o.color) for o in st.objects if o.prediction is not None))
        obj = st.current
        p = obj.prompts
        canvas = overlay.draw_prompts(tinted, st.display, p.points, p.box, box_color=obj.color)
        candidates: List[Candidate] = []
        chosen: Optional[int] = None
        if obj.prediction is not None:
            small = overlay.thumbnail(base)
            for i in range(obj.prediction.masks.shape[0]):
                thumb = overlay.blend_masks(small, [(obj.prediction.masks[i], obj.color)], alpha=0.6)
                cap = f"{i + 1}: IoU {obj.prediction.iou[i]:.2f} · stability {obj.prediction.stability[i]:.2f}"
                candidates.append(Candidate(thumb, cap + (" ✓" if i == obj.chosen else ""), f"Mask {cap}"))
            chosen = obj.chosen
        return ImageView(canvas, candidates, chosen, objects, st.active, status_line(slot, self.registry, note))


# ---------------------------------------------------------------------------- canvas view
@dataclass
class CanvasView:
    """What the page's canvas and side controls get after an action."""

    update: CanvasUpdate
    objects: List[Tuple[str, int]] = field(default_factory=list)
    active: int = 0
    status: str = ""
    has_media: bool = False

    @property
    def canvas(self) -> Optional[CanvasUpdate]:
        """The canvas message, or None without an image (``sessions.restore_tab`` asks)."""
        return self.update if self.has_media else None


@dataclass
class CanvasShown:
    """What this session's page canvas already has (weak references: nothing is kept alive).

    ``masks`` maps object id -> (its prediction, chosen index, strokes) as last sent; an object
    whose triple differs gets a new PNG, one that is gone gets ``None``.
    """

    image: Optional["weakref.ref"] = None
    masks: Dict[int, Tuple["weakref.ref", int, tuple]] = field(default_factory=dict)


def canvas_object(obj: ImageObject) -> CanvasObject:
    tag = f"{obj.label} {obj.score:.2f}" if obj.label and obj.score is not None else (obj.label or "")
    return CanvasObject(obj.obj_id, raster.color_hex(obj.color), obj.name, tag=tag)


def _same(ref: Optional["weakref.ref"], obj: Any) -> bool:
    return ref is not None and obj is not None and ref() is obj


class CanvasRenderer:
    """A ``CanvasUpdate`` with what changed since the page's canvas last heard (see module doc)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def __call__(self, slot: ImageSlot, note: str = "") -> CanvasView:
        st = slot.state
        shown: CanvasShown = slot.shown if isinstance(slot.shown, CanvasShown) else CanvasShown()
        slot.shown = shown
        objects = object_choices(st)
        if not st.has_media or st.display is None or st.image is None:
            return CanvasView(CanvasUpdate(objects=[], selected=None, candidates=[]), objects, st.active,
                              note or "Drop an image on the canvas, click it to browse, or pick an example.")
        update = CanvasUpdate(objects=[canvas_object(o) for o in st.objects], selected=st.current.obj_id)
        h, w = st.hw
        hw = display_hw(h, w)
        if not _same(shown.image, st.image):
            update.picture = {"url": picture_url(st.display.pixels), "width": w, "height": h}
            shown.image, shown.masks = weakref.ref(st.image), {}
            if max(h, w) / max(1, min(h, w)) > EXTREME_ASPECT:
                update.hint = (f"A very {'wide' if w > h else 'tall'} picture ({w}×{h}): it is shown small; "
                               "clicks and masks still use every pixel.")
        masks: Dict[int, Optional[str]] = {}
        live = set()
        for o in st.objects:
            oid = o.obj_id
            live.add(oid)
            had = shown.masks.get(oid)
            if o.prediction is None:
                if had is not None:
                    masks[oid] = None
                    del shown.masks[oid]
                continue
            strokes = o.prompts.strokes  # brush / eraser strokes laid on the chosen candidate
            if had is not None and _same(had[0], o.prediction) and had[1] == o.chosen and had[2] == strokes:
                continue
            masks[oid] = mask_png(o.mask, o.color, hw)
            shown.masks[oid] = (weakref.ref(o.prediction), o.chosen, strokes)
        for oid in [k for k in shown.masks if k not in live]:
            masks[oid] = None
            del shown.masks[oid]
        if masks:
            update.masks = {0: masks}
        update.prompts = {0: {o.obj_id: {"points": list(o.prompts.points), "box": o.prompts.box}
                              for o in st.objects}}
        obj = st.current
        if obj.prediction is not None:
            # Scores only: a candidate's mask is sent when it is chosen (three more PNGs per
            # click would triple the encoding and the browser's decoding).
            update.candidates = [{"url": None, "score": round(float(s), 3)} for s in obj.prediction.iou]
            update.candidate = obj.chosen
        else:
            update.candidates = []
        return CanvasView(update, objects, st.active, status_line(slot, self.registry, note), True)



def everything_regions(masks: Any, display: raster.DisplayImage) -> Dict[str, Any]:
    """"Segment everything" masks as the canvas's regions (a label map: hover and pick), or
    ``{}`` (no regions) when there are none."""
    if masks is None or not len(masks):
        return {}
    return {"url": label_map_png(masks, display.pixels.shape[:2]), "count": len(masks)}


# ---------------------------------------------------------------------------- status line
def status_line(slot: ImageSlot, registry: ModelRegistry, note: str = "") -> str:
    """The line under the picture: the object, its prompts and mask, the image, model and timings."""
    st = slot.state
    h, w = st.hw
    obj = st.current
    fg = sum(1 for pt in obj.prompts.points if pt[2] == 1)
    bg = len(obj.prompts.points) - fg
    parts = [f"**{obj.name}** ({st.active + 1} of {len(st.objects)})",
             f"{fg} foreground / {bg} background point{'s' if bg != 1 else ''}"]
    if obj.prompts.box is not None:
        parts.append("box")
    if obj.prompts.is_refinement:
        parts.append("refined")
    if obj.prediction is not None:
        strokes = obj.prompts.strokes  # brush / eraser corrections count in the area
        area = int(np.count_nonzero(obj.mask)) if strokes else obj.prediction.masks.area(obj.chosen)
        parts.append(f"mask {obj.chosen + 1} of {obj.prediction.masks.shape[0]}, {area:,} px"
                     + (f", {len(strokes)} brush stroke{'s' if len(strokes) != 1 else ''}" if strokes else ""))
    size = f"image {w}×{h}"
    if st.display is not None and st.display.scale < 1.0:
        size += f" (shown at {st.display.scale:.2f}×, outputs at full size)"
    timing = []
    if slot.last_encode_s is not None:
        timing.append(f"encode {slot.last_encode_s:.2f} s")
    if slot.last_decode_s is not None:
        timing.append(f"decode {slot.last_decode_s * 1000:.0f} ms")
    model = model_label(registry.resolve(slot.model_key))
    line = " · ".join(parts) + f"  \n{size} · {model}" + (f" · {', '.join(timing)}" if timing else "")
    return (note + "  \n" + line) if note else line
