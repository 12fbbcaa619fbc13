"""What one user has done on the video tab, as plain data with no Gradio and no model.

A clip holds several objects, each with its own id (1, 2, ... — the ids the model, the
exports and the DAVIS palette PNGs use), name and colour, and its prompts per frame.
The masks of every frame and object are kept here too, packed to one bit per pixel and
zlib-compressed (a 480p mask is ~40 KB as a bool array, typically 1-3 KB packed), never
as float logits: a session can hold every frame of a clip at a few megabytes.

The model's own tracking state (memories, features) lives next to this in the controller;
this object is what the user sees and what the downloads are made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ui.common.prompts import PointsAndBox
from ui.common.errors import UserError
from ui.common.inputs import number, shown, whole_number
from ui.common.packed_mask import PackedMask
from ui.canvas.raster import object_color

Point = Tuple[float, float, int]  # x, y in clip pixels; label 1 = foreground, 0 = background
Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in clip pixels, x0 < x1, y0 < y1

#: Smallest box side, in clip pixels, that counts as a box rather than a misclick.
MIN_BOX_SIDE = 2.0
#: Object ids must fit a DAVIS palette PNG (0 is the background).
MAX_OBJECT_ID = 255

__all__ = ["UserError", "FramePrompts", "VideoObject", "PackedMask", "MaskStore", "VideoSession",
           "Point", "Box", "MAX_OBJECT_ID"]


@dataclass(frozen=True)
class FramePrompts(PointsAndBox):
    """An object's prompts on one frame: clicks and at most one box (sent together), and a
    painted mask (brush / eraser) when the user painted on that frame.

    How a painted mask and clicks combine follows ``SAM2VideoPredictor``: ``add_new_mask``
    replaces the object's clicks and box on that frame, so a stroke keeps only the painted mask
    (``with_mask``); a later click there is decoded together with the painted mask's result
    (``add_new_points_or_box`` takes the frame's previous mask as the decoder's mask input), so
    clicks after painting refine the painted mask. The engine sends the mask first, then the
    clicks (``ui.video.engine.VideoEngine.prompt``); undo (Z) drops the newest click or box,
    and the painted mask last.
    """

    points: Tuple[Point, ...] = ()
    box: Optional[Box] = None
    box_newest: bool = field(default=False, compare=False)  # the box came after the last click
    mask: Optional[PackedMask] = None  # the painted mask, clip size; None: not painted

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None

    @property
    def has_clicks(self) -> bool:
        """Clicks or a box (what ``add_new_points_or_box`` takes)."""
        return bool(self.points) or self.box is not None

    def with_point(self, x: float, y: float, label: int) -> "FramePrompts":
        return FramePrompts(self.points + ((float(x), float(y), int(label)),), self.box, mask=self.mask)

    def with_box(self, box: Box) -> "FramePrompts":
        return FramePrompts(self.points, box, box_newest=True, mask=self.mask)

    def with_mask(self, mask: np.ndarray) -> "FramePrompts":
        """The painted ``mask`` as the frame's prompt: it replaces the clicks and the box there."""
        return FramePrompts(mask=PackedMask.pack(mask))

    def without_last(self) -> "FramePrompts":
        """Drop the newest prompt: the box if it came after the last click, else that click;
        with neither left, the painted mask."""
        if self.points and not (self.box is not None and self.box_newest):
            return FramePrompts(self.points[:-1], self.box, mask=self.mask)
        if self.box is not None:
            return FramePrompts(self.points, None, mask=self.mask)
        return FramePrompts()


@dataclass
class VideoObject:
    """One tracked object: id (as given to the model), display name, colour, prompts."""

    obj_id: int
    name: str
    color_index: int
    prompts: Dict[int, FramePrompts] = field(default_factory=dict)
    label: Optional[str] = None  # what "Find" looked for; the COCO export groups objects by it

    @property
    def color(self) -> Tuple[int, int, int]:
        return object_color(self.color_index)

    @property
    def prompted_frames(self) -> List[int]:
        return sorted(f for f, p in self.prompts.items() if not p.is_empty)

    def on(self, frame: int) -> FramePrompts:
        return self.prompts.get(frame, FramePrompts())


class MaskStore:
    """``frame -> {obj_id -> PackedMask}``: every result the user has seen, compactly."""

    def __init__(self) -> None:
        self._frames: Dict[int, Dict[int, PackedMask]] = {}

    def put(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        self._frames.setdefault(int(frame), {})[int(obj_id)] = PackedMask.pack(mask)

    def get(self, frame: int, obj_id: int) -> Optional[PackedMask]:
        return self._frames.get(int(frame), {}).get(int(obj_id))

    def mask(self, frame: int, obj_id: int) -> Optional[np.ndarray]:
        packed = self.get(frame, obj_id)
        return None if packed is None else packed.unpack()

    def frame(self, frame: int) -> Dict[int, PackedMask]:
        return dict(self._frames.get(int(frame), {}))

    def has_frame(self, frame: int) -> bool:
        return bool(self._frames.get(int(frame)))

    def frames(self) -> List[int]:
        return sorted(f for f, objs in self._frames.items() if objs)

    def copy(self) -> "MaskStore":
        """A snapshot (the packed masks are immutable and shared): later changes to this
        store do not show in it, so long exports can read it without the session lock."""
        out = MaskStore()
        out._frames = {f: dict(objs) for f, objs in self._frames.items()}
        return out

    def drop_object(self, obj_id: int) -> None:
        for objs in self._frames.values():
            objs.pop(int(obj_id), None)

    def clear(self) -> None:
        self._frames.clear()

    def __iter__(self) -> Iterator[int]:
        return iter(self.frames())

    def __len__(self) -> int:
        return len(self.frames())

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for objs in self._frames.values() for p in objs.values())


@dataclass(frozen=True)
class VideoSnapshot:
    """The objects of a clip at one moment (Ctrl+Z / Ctrl+Y over every change, as on the image
    tab): objects are copies with their own prompt dicts (``FramePrompts`` and packed masks are
    immutable and shared), the masks a ``MaskStore.copy``; ``frame`` is the frame the change
    was made on (an undo or redo shows it)."""

    objects: Tuple[VideoObject, ...]
    active_id: Optional[int]
    next_color: int
    masks: "MaskStore"
    frame: int


@dataclass
class VideoSession:
    """One browser session's video tab (without the model state)."""

    num_frames: int = 0
    height: int = 0
    width: int = 0
    objects: List[VideoObject] = field(default_factory=list)
    active_id: Optional[int] = None
    masks: MaskStore = field(default_factory=MaskStore)
    next_color: int = 0
    prompts_version: int = 0  # bumped by every prompt change
    tracked_version: int = -1  # prompts_version when the last tracking run finished
    last_frame: int = 0

    # ---------------------------------------------------------------- clip
    def load(self, num_frames: int, height: int, width: int) -> None:
        """A new clip: forget every object, prompt and mask."""
        self.num_frames, self.height, self.width = int(num_frames), int(height), int(width)
        self.clear_all()

    @property
    def has_media(self) -> bool:
        return self.num_frames > 0

    def require_media(self) -> None:
        if not self.has_media:
            raise UserError("Load a video first (upload one or pick an example).")

    def check_frame(self, frame: object) -> int:
        """``frame`` as a valid index, or a ``UserError`` naming the valid range."""
        self.require_media()
        huge = isinstance(frame, int) and not isinstance(frame, bool) and abs(frame) > 2 ** 62
        i = -1 if huge else whole_number(frame, "frame")
        if not 0 <= i < self.num_frames:
            raise UserError(
                f"Frame {shown(frame) if huge else i} is outside the clip: it has {self.num_frames} frame"
                f"{'s' if self.num_frames != 1 else ''} (0 to {self.num_frames - 1})."
            )
        return i

    def clear_all(self) -> None:
        """Remove every object, prompt and mask; the clip stays."""
        self.objects = []
        self.active_id = None
        self.masks.clear()
        self.next_color = 0
        self.prompts_version += 1
        self.tracked_version = -1

    # ---------------------------------------------------------------- history
    def snapshot(self) -> VideoSnapshot:
        return VideoSnapshot(tuple(replace(o, prompts=dict(o.prompts)) for o in self.objects), self.active_id,
                             self.next_color, self.masks.copy(), self.last_frame)

    def prompt_key(self) -> List[Tuple[int, List[Tuple[int, FramePrompts]]]]:
        """Every object's prompts, comparable: what the model has been told."""
        key = [(o.obj_id, sorted((f, p) for f, p in o.prompts.items() if not p.is_empty)) for o in self.objects]
        return sorted((oid, frames) for oid, frames in key if frames)  # objects without prompts: the model never saw them

    def restore(self, snap: VideoSnapshot) -> bool:
        """Objects, prompts, masks and selection as in ``snap`` (the clip stays); shows the frame
        of the change. Returns whether the prompts differ from before (the model must be told
        them again, and tracked frames are then out of date, as after any prompt change)."""
        before = self.prompt_key()
        self.objects = [replace(o, prompts=dict(o.prompts)) for o in snap.objects]
        self.active_id = snap.active_id
        self.next_color = snap.next_color
        self.masks = snap.masks.copy()
        self.last_frame = min(max(0, snap.frame), max(0, self.num_frames - 1))
        changed = self.prompt_key() != before
        if changed:
            self.prompts_version += 1
        return changed

    # ---------------------------------------------------------------- objects
    def find(self, obj_id: int) -> Optional[VideoObject]:
        for o in self.objects:
            if o.obj_id == obj_id:
                return o
        return None

    def get(self, obj_id: int) -> VideoObject:
        obj = self.find(obj_id)
        if obj is None:
            known = ", ".join(str(o.obj_id) for o in self.objects) or "none yet"
            raise UserError(f"There is no object with id {obj_id} (objects: {known}).")
        return obj

    @property
    def active(self) -> Optional[VideoObject]:
        return None if self.active_id is None else self.find(self.active_id)

    def check_id(self, obj_id: object) -> int:
        return whole_number(obj_id, "object id", 1, MAX_OBJECT_ID)

    def new_object(self, name: Optional[str] = None, obj_id: Optional[int] = None) -> VideoObject:
        """Add an object (id: the next free one unless given) and make it the active one."""
        self.require_media()
        if obj_id is None:
            used = {o.obj_id for o in self.objects}
            obj_id = next((i for i in range(1, MAX_OBJECT_ID + 1) if i not in used), None)
            if obj_id is None:
                raise UserError(f"At most {MAX_OBJECT_ID} objects per clip.")
        else:
            obj_id = self.check_id(obj_id)
            if self.find(obj_id) is not None:
                raise UserError(f"Object {obj_id} already exists.")
        clean = " ".join(str(name or "").split())[:40] or f"Object {obj_id}"
        obj = VideoObject(obj_id, clean, self.next_color)
        self.next_color += 1
        self.objects.append(obj)
        self.active_id = obj.obj_id
        return obj

    def object_for_prompt(self, obj_id: object = None) -> VideoObject:
        """The object a prompt goes to: ``obj_id`` (created if new), else the active one
        (created if there is none)."""
        self.require_media()
        if obj_id is None or (isinstance(obj_id, (int, float)) and not isinstance(obj_id, bool) and obj_id == 0):
            obj = self.active or self.new_object()
        else:
            oid = self.check_id(obj_id)
            obj = self.find(oid) or self.new_object(obj_id=oid)
        self.active_id = obj.obj_id
        return obj

    def select(self, obj_id: object) -> VideoObject:
        obj = self.get(self.check_id(obj_id))
        self.active_id = obj.obj_id
        return obj

    def rename(self, obj_id: object, name: str) -> VideoObject:
        obj = self.get(self.check_id(obj_id))
        clean = " ".join(str(name or "").split())[:40]
        if not clean:
            raise UserError("An object name cannot be empty.")
        obj.name = clean
        return obj

    def remove(self, obj_id: object) -> VideoObject:
        obj = self.get(self.check_id(obj_id))
        self.objects.remove(obj)
        self.masks.drop_object(obj.obj_id)
        if self.active_id == obj.obj_id:
            self.active_id = self.objects[-1].obj_id if self.objects else None
        self.prompts_version += 1
        return obj

    # ---------------------------------------------------------------- prompts
    def check_inside(self, x: object, y: object) -> Tuple[float, float]:
        fx, fy = number(x, "x"), number(y, "y")
        if not (-0.5 <= fx <= self.width - 0.5 and -0.5 <= fy <= self.height - 0.5):
            raise UserError(
                f"Point ({fx:g}, {fy:g}) is outside the frame (width {self.width}, height "
                f"{self.height}); click inside the picture."
            )
        return fx, fy

    def set_prompts(self, obj: VideoObject, frame: int, prompts: FramePrompts) -> None:
        if prompts.is_empty:
            obj.prompts.pop(frame, None)
        else:
            obj.prompts[frame] = prompts
        self.prompts_version += 1

    def box_from(self, x0: object, y0: object, x1: object, y1: object) -> Box:
        ax, ay = self.check_inside(x0, y0)
        bx, by = self.check_inside(x1, y1)
        box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        if box[2] - box[0] < MIN_BOX_SIDE or box[3] - box[1] < MIN_BOX_SIDE:
            raise UserError("That box is too thin; click two opposite corners of the object.")
        return box

    # ---------------------------------------------------------------- status
    @property
    def tracking_stale(self) -> bool:
        """Prompts changed since the last finished tracking run (or there was none)."""
        return self.tracked_version != self.prompts_version

    def all_prompted_frames(self) -> List[int]:
        return sorted({f for o in self.objects for f in o.prompted_frames})
