"""What one user has done on the image tab, as plain data with no Gradio and no model.

An image holds several objects; each object keeps the history of its prompt sets (one
entry per user action), so "undo" just steps back one entry and asks the decoder again,
and "refine" is one more entry that carries the previous mask's low-resolution logits.

Memory stays bounded on large photos: masks are kept packed (``ui.common.packed_mask``), only the
object being edited keeps all its candidates (the others keep their chosen mask and its
logits; selecting one again recomputes its candidates, decoder only), and a session holds
at most ``MAX_OBJECTS`` objects. On a 36-megapixel photo an object costs ~1 MB instead of
~100 MB (``bench/image_session_memory.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, List, Optional, Tuple

import numpy as np

from ui.canvas.raster import DisplayImage, object_color
from ui.common.packed_mask import PackedMasks
from ui.common.prompts import Box, Point, PointsAndBox
from ui.common.errors import UserError
from ui.common.strokes import Stroke, apply_strokes


#: Smallest box side, in original pixels, that counts as a box rather than a misclick.
MIN_BOX_SIDE = 2.0

#: Objects one image session may hold (each keeps a packed full-size mask and its logits).
MAX_OBJECTS = 20

#: Longest object name kept (the video side keeps the same).
MAX_NAME_LENGTH = 40


@dataclass(frozen=True)
class PromptSet(PointsAndBox):
    """Everything the decoder is given for one object after one user action."""

    points: Tuple[Point, ...] = ()
    box: Optional[Box] = None
    mask_input: Optional[np.ndarray] = field(default=None, compare=False)  # 256x256 logits
    #: Brush / eraser strokes laid on the decoder's mask, in order (``ui.common.strokes``).
    strokes: Tuple[Stroke, ...] = ()


    @property
    def is_refinement(self) -> bool:
        return self.mask_input is not None



@dataclass
class Prediction:
    """Decoder output for one prompt set: C candidate masks and their scores.

    ``masks`` may be given as a C x H x W bool array; it is kept packed (``PackedMasks``:
    ``masks[i]`` unpacks candidate i, ``masks.shape`` is (C, H, W)).
    """

    masks: PackedMasks  # C x H x W bool, original image size, packed
    iou: np.ndarray  # C float32, the model's predicted IoU
    stability: np.ndarray  # C float32, IoU of the mask thresholded at +/- 1 logit
    low_res_logits: np.ndarray  # C x 256 x 256 float32, fed back by "refine"
    complete: bool = True  # False once only the chosen candidate is kept (``only``)

    def __post_init__(self) -> None:
        if not isinstance(self.masks, PackedMasks):
            self.masks = PackedMasks.pack(np.asarray(self.masks, dtype=bool))
        c = self.masks.shape[0]
        if self.masks.ndim != 3 or self.iou.shape != (c,) or self.stability.shape != (c,):
            raise ValueError(
                f"inconsistent prediction: masks {self.masks.shape}, iou {self.iou.shape}, "
                f"stability {self.stability.shape}"
            )

    @property
    def best(self) -> int:
        return int(np.argmax(self.iou))

    def only(self, index: int) -> "Prediction":
        """This prediction reduced to candidate ``index`` (what a finished object keeps)."""
        i = int(index)
        return Prediction(masks=self.masks[i:i + 1], iou=self.iou[i:i + 1].copy(),
                          stability=self.stability[i:i + 1].copy(),
                          low_res_logits=self.low_res_logits[i:i + 1].copy(), complete=False)

    @property
    def nbytes(self) -> int:
        return self.masks.nbytes + self.iou.nbytes + self.stability.nbytes + self.low_res_logits.nbytes


@dataclass
class ImageObject:
    """One object being segmented: its colour, prompt history and current candidates."""

    color_index: int
    history: List[PromptSet] = field(default_factory=list)
    prediction: Optional[Prediction] = None
    chosen: int = 0
    chosen_before_aside: Optional[int] = None  # candidate index before ``set_aside``
    label: Optional[str] = None  # what "Find" (or a box file) called it; None: clicked by hand
    score: Optional[float] = None  # the detector's (or file's) confidence for ``label``
    given_name: Optional[str] = None  # the user's name for it (Rename); None: the default below

    @property
    def obj_id(self) -> int:
        """The object's id in its session (1, 2, ...: unique, never reused while the session
        lasts, as on the video side); the canvas, the list and the exports use it."""
        return self.color_index + 1

    @property
    def name(self) -> str:
        """The user's name, else "Object 3", or "Object 3: car 0.92" for an object that Find made."""
        if self.given_name:
            return self.given_name
        base = f"Object {self.obj_id}"
        if not self.label:
            return base
        return f"{base}: {self.label}" + (f" {self.score:.2f}" if self.score is not None else "")

    @property
    def color(self) -> Tuple[int, int, int]:
        return object_color(self.color_index)

    @property
    def prompts(self) -> PromptSet:
        return self.history[-1] if self.history else PromptSet()

    @property
    def mask(self) -> Optional[np.ndarray]:
        """The chosen candidate with the brush / eraser strokes applied (``ui.common.strokes``)."""
        if self.prediction is None:
            return None
        base = self.prediction.masks[self.chosen]
        strokes = self.prompts.strokes
        return apply_strokes(base, strokes) if strokes else base

    def push(self, prompts: PromptSet) -> None:
        self.history.append(prompts)
        self.prediction = None

    def set_aside(self) -> None:
        """Another object becomes the active one: keep only the chosen candidate (which
        one it was is remembered, for when the candidates are computed again)."""
        if self.prediction is not None and self.prediction.complete and self.prediction.masks.shape[0] > 1:
            self.prediction = self.prediction.only(self.chosen)
            self.chosen_before_aside = self.chosen
            self.chosen = 0

    @property
    def nbytes(self) -> int:
        """Bytes of masks, scores and logits this object keeps (prompt history included)."""
        history = sum(p.mask_input.nbytes for p in self.history if p.mask_input is not None)
        return history + (self.prediction.nbytes if self.prediction is not None else 0)

    def pop(self) -> None:
        self.history.pop()
        self.prediction = None


@dataclass
class EverythingResult:
    """Output of the automatic mask generator, sorted by area (largest first)."""

    masks: PackedMasks  # N x H x W bool, packed (a list of H x W arrays is packed on creation)
    records: List[dict]  # per-mask scores, boxes, points (no segmentation arrays)
    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.masks, PackedMasks):
            self.masks = PackedMasks.pack(list(self.masks))


@dataclass(frozen=True)
class Snapshot:
    """The objects of a session at one moment (for Ctrl+Z / Ctrl+Y over every change). Objects
    are shallow copies with their own history lists: predictions are shared, never changed in
    place (an action replaces them), so a snapshot costs a few references per object."""

    objects: Tuple[ImageObject, ...]
    active: int
    next_color: int


@dataclass
class ImageSession:
    """One browser session's image tab."""

    image: Optional[np.ndarray] = None  # H x W x 3 uint8, original size
    name: str = "image"
    display: Optional[DisplayImage] = None
    embedding: Any = None  # ui.image.engine.Embedding for (image, model) or None
    objects: List[ImageObject] = field(default_factory=lambda: [ImageObject(0)])
    active: int = 0
    everything: Optional[EverythingResult] = None
    next_color: int = 1

    # ---------------------------------------------------------------- image
    def load(self, image: np.ndarray, name: str, display: DisplayImage) -> None:
        """A new picture: its objects start empty."""
        self.image = image
        self.name = name
        self.display = display
        self.embedding = None
        self.everything = None
        self.clear_all()

    @property
    def has_media(self) -> bool:
        return self.image is not None

    @property
    def hw(self) -> Tuple[int, int]:
        if self.image is None:
            raise UserError("Load an image first (upload one or pick an example).")
        return int(self.image.shape[0]), int(self.image.shape[1])

    def require_media(self) -> None:
        self.hw  # noqa: B018 - raises the user-facing error when no image is loaded

    # ---------------------------------------------------------------- history
    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(replace(o, history=list(o.history)) for o in self.objects), self.active,
                        self.next_color)

    def restore(self, snap: Snapshot) -> None:
        """Objects, selection and colour counter as in ``snap`` (the image and embedding stay)."""
        self.objects = [replace(o, history=list(o.history)) for o in snap.objects]
        self.active = min(snap.active, len(self.objects) - 1)
        self.next_color = snap.next_color

    # ---------------------------------------------------------------- objects
    @property
    def current(self) -> ImageObject:
        return self.objects[self.active]

    def clear_all(self) -> None:
        """Forget all objects and prompts (the image and its embedding stay)."""
        self.objects = [ImageObject(0)]
        self.active = 0
        self.next_color = 1

    def new_object(self) -> ImageObject:
        """Start a new object, unless the active one has no prompts yet (then reuse it)."""
        if not self.current.history:
            return self.current
        if len(self.objects) >= MAX_OBJECTS:
            raise UserError(
                f"This app keeps at most {MAX_OBJECTS} objects per image; remove one (or Clear all) to add another."
            )
        self.current.set_aside()
        obj = ImageObject(self.next_color)
        self.next_color += 1
        self.objects.append(obj)
        self.active = len(self.objects) - 1
        return obj

    @property
    def room(self) -> int:
        """How many more objects fit (an empty object without prompts does not count)."""
        return MAX_OBJECTS - sum(1 for o in self.objects if o.history)

    def add_objects(self, new: List[ImageObject]) -> None:
        """Append finished objects (from Find); an empty object without prompts makes way for them.

        The first new object becomes the active one.
        """
        if not new:
            return
        kept = [o for o in self.objects if o.history]
        if len(kept) + len(new) > MAX_OBJECTS:
            raise UserError(f"This app keeps at most {MAX_OBJECTS} objects per image; "
                              f"{len(kept)} are there, {len(new)} more do not fit.")
        self.current.set_aside()
        self.objects = kept
        self.active = len(self.objects)
        self.objects.extend(new)

    def index_of(self, obj_id: int) -> int:
        """The list position of object ``obj_id``."""
        for i, obj in enumerate(self.objects):
            if obj.obj_id == obj_id:
                return i
        raise UserError(f"Object {obj_id} is gone (or never was); press [ or ] to pick another.")

    def select_object(self, obj_id: int) -> None:
        index = self.index_of(obj_id)
        if index != self.active:
            self.current.set_aside()
        self.active = index

    @property
    def nbytes(self) -> int:
        """Bytes of masks and logits the session's objects keep (the image not counted)."""
        everything = self.everything.masks.nbytes if self.everything is not None else 0
        return sum(o.nbytes for o in self.objects) + everything

    def rename_object(self, name: str, obj_id: Optional[int] = None) -> ImageObject:
        """Name the active object (or object ``obj_id``): the list, the status line and the
        exports use it. Spaces are tidied, 40 characters at most; an empty name is refused."""
        obj = self.current if obj_id is None else self.objects[self.index_of(obj_id)]
        clean = " ".join(str(name or "").split())[:MAX_NAME_LENGTH]
        if not clean:
            raise UserError("An object name cannot be empty: type one, then press Rename.")
        obj.given_name = clean
        return obj

    def remove_object(self) -> None:
        """Delete the active object (the last one left is emptied instead)."""
        if len(self.objects) == 1:
            self.objects = [ImageObject(self.current.color_index)]
            return
        del self.objects[self.active]
        self.active = min(self.active, len(self.objects) - 1)

    # ---------------------------------------------------------------- prompts
    def _check_inside(self, x: float, y: float) -> None:
        h, w = self.hw
        if not (np.isfinite(x) and np.isfinite(y)):
            raise UserError("Point coordinates must be numbers.")
        if not (-0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5):
            raise UserError(
                f"Point ({x:g}, {y:g}) is outside the image (width {w}, height {h}); "
                "click inside the picture."
            )

    def add_point(self, x: float, y: float, label: int) -> PromptSet:
        self._check_inside(float(x), float(y))
        if label not in (0, 1):
            raise UserError(f"Point label must be 1 (foreground) or 0 (background), got {label}.")
        p = self.current.prompts
        new = PromptSet(points=p.points + ((float(x), float(y), int(label)),), box=p.box, strokes=p.strokes)
        self.current.push(new)
        return new

    def add_box(self, x0: float, y0: float, x1: float, y1: float) -> PromptSet:
        for x, y in ((x0, y0), (x1, y1)):
            self._check_inside(float(x), float(y))
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if box[2] - box[0] < MIN_BOX_SIDE or box[3] - box[1] < MIN_BOX_SIDE:
            raise UserError(
                "That box is too thin; click two opposite corners of the object."
            )
        p = self.current.prompts
        new = PromptSet(points=p.points, box=tuple(float(v) for v in box), strokes=p.strokes)  # type: ignore[arg-type]
        self.current.push(new)
        return new

    def refine(self) -> PromptSet:
        obj = self.current
        if obj.prediction is None:
            raise UserError("Nothing to refine yet: add a point or a box first.")
        logits = obj.prediction.low_res_logits[obj.chosen]
        p = obj.prompts
        new = PromptSet(points=p.points, box=p.box, mask_input=np.array(logits, copy=True), strokes=p.strokes)
        obj.push(new)
        return new

    def undo(self) -> str:
        """Undo the last action of the active object; returns a description of what went."""
        obj = self.current
        if not obj.history:
            raise UserError(f"{obj.name} has no prompts to undo.")
        last = obj.history[-1]
        prev = obj.history[-2] if len(obj.history) > 1 else PromptSet()
        if last.strokes != prev.strokes and last.points == prev.points and last.box == prev.box:
            obj.history.pop()  # the decoder's answer stays: only the strokes changed
            return "eraser stroke" if last.strokes[-1].erase else "brush stroke"
        obj.pop()
        if last.is_refinement:
            return "refinement"
        prev = obj.prompts
        return "box" if last.box != prev.box else "point"

    def add_stroke(self, stroke: Stroke) -> None:
        """A brush / eraser stroke on the active object's mask (it needs a mask: click first).
        The decoder's candidates stay; the stroke is applied on top of the chosen one."""
        obj = self.current
        if obj.prediction is None:
            raise UserError("Click on the object first; the brush and eraser then correct its mask.")
        if tuple(stroke.hw) != self.hw:
            raise UserError("That stroke was made on another picture.")
        p = obj.prompts
        obj.history.append(PromptSet(points=p.points, box=p.box, mask_input=p.mask_input,
                                     strokes=p.strokes + (stroke,)))

    def choose(self, index: int) -> None:
        obj = self.current
        if obj.prediction is None:
            raise UserError("There are no candidate masks yet: add a point or a box first.")
        n = obj.prediction.masks.shape[0]
        if not 0 <= index < n:
            raise UserError(f"Candidate {index + 1} does not exist (there are {n}).")
        obj.chosen = int(index)

    def set_prediction(self, prediction: Prediction) -> None:
        obj = self.current
        obj.prediction = prediction
        obj.chosen = prediction.best

    def finished_objects(self) -> List[ImageObject]:
        return [o for o in self.objects if o.prediction is not None]
