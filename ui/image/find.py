"""The image tab's "Find objects": typed words or a box file in, one session object per box out.

No Gradio here. ``ImageFind`` runs under the session's lock (``SessionController.run_on``),
uses the session's encoded image (``ImageController.ensure_embedding``) and the process's
``ui.find.finder.Finder`` (the detector, loaded once, lazily, under its own lock), and adds every
found object to the session as an ordinary object: its box is its first prompt, the mask
Find gave is its prediction, and its label and score stay on it (``ImageObject.label``),
so a click refines it, "Remove object" deletes it, and the COCO export names its category.

A refused request (empty or unusable words, a bad file, no detector, nothing found)
leaves the session as it was: objects are added only after Find has returned.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

import numpy as np

from sam2.find import DEFAULT_THRESHOLD, FoundObject
from ui.find.query import check_query_length, without_paths
from ui.find.finder import FindOutcome, Finder, boxes_from_file, count_summary, query_labels
from ui.image.controller import ImageController
from ui.image.slot import ImageSlot
from ui.image.view import View
from ui.common.progress import ProgressFn, no_progress
from ui.image.engine import stability_scores
from ui.models.shared_registry import image_predictor
from ui.image.state import MAX_OBJECTS, ImageObject, Prediction, PromptSet
from ui.common.errors import ModelUnavailableError, UserError

def _ids(objects: Any) -> List[int]:
    return [o.obj_id for o in objects]


def found_to_object(found: FoundObject, color_index: int, mask_threshold: float = 0.0) -> ImageObject:
    """A session object for one found box: the box is its prompt, Find's mask its prediction."""
    box = tuple(float(v) for v in found.box)
    mask = np.asarray(found.mask, dtype=bool)
    if found.low_res_logits is not None:
        low_res = np.asarray(found.low_res_logits, dtype=np.float32).reshape(1, *found.low_res_logits.shape[-2:])
        stability = stability_scores(low_res, mask_threshold)
    else:  # pragma: no cover - the adapter always keeps them
        low_res = np.zeros((1, 256, 256), np.float32)
        stability = np.zeros(1, np.float32)
    prediction = Prediction(masks=mask[None], iou=np.array([found.predicted_iou], np.float32),
                            stability=stability, low_res_logits=low_res)
    obj = ImageObject(color_index, history=[PromptSet(box=box)], label=found.label, score=float(found.score))  # type: ignore[arg-type]
    obj.prediction = prediction
    obj.chosen = 0
    return obj


class ImageFind:
    """Find and box-file uploads for every image session."""

    def __init__(self, controller: ImageController, finder: Finder) -> None:
        self.controller = controller
        self.finder = finder

    def unavailable_reason(self) -> Optional[str]:
        """Why Find cannot work here (shown next to the box), or None; cheap."""
        reason = self.finder.unavailable_reason()
        return None if reason is None else without_paths(reason)

    # ------------------------------------------------------------------ actions
    def find(self, sid: Optional[str], text: Optional[str], threshold: float = DEFAULT_THRESHOLD,
             progress: ProgressFn = no_progress) -> View:
        """Objects for the words in ``text`` (e.g. "car, person") on the session's image."""
        check_query_length(text)
        reason = self.unavailable_reason()
        if reason is not None:
            raise ModelUnavailableError(reason)

        def run(predictor: Any, image: np.ndarray, is_set: bool, room: int) -> FindOutcome:
            try:
                return self.finder.find(predictor, image, text, threshold, image_is_set=is_set,
                                        progress=progress)
            except ModelUnavailableError as exc:
                raise ModelUnavailableError(without_paths(str(exc))) from None

        def check_first() -> None:
            self._check_query(text)
            try:  # the detector loads (or says it cannot) before the picture is encoded
                self.finder.detector(progress)
            except ModelUnavailableError as exc:
                raise ModelUnavailableError(without_paths(str(exc))) from None

        return self._add(sid, run, progress, check_first=check_first)

    def from_file(self, sid: Optional[str], path: Optional[str], threshold: float = 0.0,
                  names_text: Optional[str] = None, progress: ProgressFn = no_progress) -> View:
        """Objects for the boxes of an uploaded COCO detections ``.json`` or YOLO ``.txt``."""
        if not path:
            raise UserError("Upload a COCO detections .json or a YOLO .txt file first.")

        def run(predictor: Any, image: np.ndarray, is_set: bool, room: int) -> FindOutcome:
            try:
                return boxes_from_file(predictor, image, path, threshold, names_text=names_text,
                                       image_is_set=is_set, max_objects=min(self.finder.max_objects, room))
            except UserError as exc:
                raise UserError(without_paths(str(exc))) from None

        return self._add(sid, run, progress)

    @staticmethod
    def _check_query(text: Optional[str]) -> None:
        query_labels(text)  # UserError for empty / punctuation-only / too long, before any model work

    # ------------------------------------------------------------------ shared
    def _add(self, sid: Optional[str], run: Callable[[Any, np.ndarray, bool, int], FindOutcome],
             progress: ProgressFn, check_first: Optional[Callable[[], None]] = None) -> View:
        c = self.controller

        def act(slot: ImageSlot) -> View:
            st = slot.state
            st.require_media()
            if check_first is not None:
                check_first()
            room = st.room
            if room <= 0:
                raise UserError(f"This image already has {MAX_OBJECTS} objects, the most this app keeps; "
                                  "remove some (or Clear all) first.")
            c.engine.registry.require_available(slot.model_key)
            assert st.image is not None
            emb = c.ensure_embedding(slot, progress)
            predictor, is_set = emb.predictor, True
            if predictor is None:  # ZeroGPU: no features kept between calls, encode here
                predictor, is_set = image_predictor(c.engine.registry.get(emb.model_id).model), False
            outcome = run(predictor, st.image, is_set, room)
            if not outcome.objects:
                return c.view_of(slot, note=f"⚠️ {outcome.message} Nothing was added.")
            found = outcome.objects[:room]  # strongest first
            note = outcome.message
            if len(found) < len(outcome.objects):
                counts: dict = {}
                for f in found:
                    counts[f.label] = counts.get(f.label, 0) + 1
                note = (f"Added {count_summary(counts)}: the {room} strongest of {len(outcome.objects)} found "
                        f"(this app keeps at most {MAX_OBJECTS} objects per image). {outcome.message}")
            threshold = float(getattr(predictor, "mask_threshold", 0.0))
            if not any(o.history for o in st.objects):
                st.next_color = 0  # nothing made by hand yet: the found objects are Object 1, 2, ...
            new: List[ImageObject] = []
            for obj in found:
                new.append(found_to_object(obj, st.next_color, threshold))
                st.next_color += 1
            st.add_objects(new)
            return c.view_of(slot, note=note)

        # One Find is one step of the tab's history (Ctrl+Z takes back all it added); a Find
        # that added nothing is no step.
        return c.run_change(sid, act, changed=lambda before, st: _ids(before.objects) != _ids(st.objects))
