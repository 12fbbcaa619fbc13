"""The "Find" box and the boxes-file upload, for the image and video tabs (no Gradio, no model math).

What a tab calls
----------------
Once per process (``app.py``), shared by every session::

    finder = Finder(device=registry.device)          # nothing is loaded yet
    finder.unavailable_reason()  # None, or why Find cannot work here (show it next to the box)

Image tab, "Find" button (the session's predictor already holds the image)::

    outcome = finder.find(predictor, image, text, threshold, image_is_set=True)

Image tab, boxes-file upload (COCO detections ``.json`` or YOLO ``.txt``; class names
optional, one per line or comma-separated)::

    outcome = boxes_from_file(predictor, image, path, threshold, names_text="", image_is_set=True)

Video tab, "Find" on the current frame (boxes only; the video predictor segments and
tracks them: one new object per ``outcome.boxes`` entry, its box as the prompt)::

    outcome = finder.find_boxes(frame, text, threshold)     # or boxes_file_boxes(frame, path, ...)

``FindOutcome``: ``objects`` (``sam2.find.FoundObject``: label, score, box XYXY, mask
H x W bool, predicted_iou, low_res_logits for refining), ``boxes`` (the kept
``Detection``s, strongest first, also for the video tab), ``summary`` ("7 cars, 2
people"), ``message`` (the status line: what was found, what was not, what was left out)
and ``categories`` (COCO categories for an export: ``category_ids[label]`` is the
``category_id`` of an object with that label).

Errors: ``UserError`` (empty/punctuation-only/too long query, a bad or mismatched box
file) and ``ModelUnavailableError`` (the detector cannot be loaded: the message says why
and how to fix it), the two types ``ui.common.errors.guarded`` already shows to the user. Nothing
found is not an error: ``objects == ()`` and the message says so; the tab then leaves the
session as it was. The tab should add the objects (label and score shown with each) only
after a call returns, so a refused request changes nothing.

On a ZeroGPU Space the tab passes a fresh predictor (``image_is_set=False``): the model work
then runs inside a ``spaces.GPU`` function (``ui.find.finder.runner``), which encodes the image there.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from sam2.find import (
    DEFAULT_DETECTOR,
    DEFAULT_THRESHOLD,
    MAX_OBJECTS,
    BoxFileError,
    Detection,
    DetectorUnavailableError,
    FindResult,
    FoundObject,
    QueryError,
    Selection,
    coco_categories,
    parse_class_names,
    parse_query,
    read_box_file,
)
from ui.find import runner as find_runner
from ui.common.errors import ModelUnavailableError, UserError
from ui.common.words import counted

#: Environment variable naming the detector (a Hub id or a local folder).
DETECTOR_ENV = "SAM2_FIND_DETECTOR"

log = logging.getLogger("sam2.app")


def detector_problem(name: str, detail: str) -> str:
    """The page's one sentence for a detector that cannot be loaded, with the fix a user (or
    whoever runs the server) can apply; ``detail`` (the library's full text, with paths and
    the underlying exception) goes to the server log instead."""
    short = os.path.basename(name.rstrip("/\\")) or name
    if detail.startswith("could not get the detector"):
        return (f"Find is unavailable: its detector ({short}) could not be downloaded here (offline); "
                f"upload a box file instead, or restart the app with {DETECTOR_ENV} set to a local copy.")
    if detail.startswith("detector folder not found"):
        return (f"Find is unavailable: detector folder not found ({short}); set {DETECTOR_ENV} to a folder "
                "with config.json and model.safetensors.")
    return f"Find is unavailable: the detector {short} could not be loaded (details are in the server log)."

@dataclass(frozen=True)
class FindOutcome:
    """What one Find (or box-file upload) produced, ready to show and to add to the session."""

    objects: Tuple[FoundObject, ...]  # with masks (image tab); () for find_boxes
    boxes: Tuple[Detection, ...]  # the kept boxes, strongest first
    labels: Tuple[str, ...]  # the query's labels (or the file's)
    summary: str  # "7 cars, 2 people"
    message: str  # the status line
    categories: List[Dict[str, Any]] = field(default_factory=list)  # COCO categories of the labels found
    category_ids: Dict[str, int] = field(default_factory=dict)  # label -> COCO category_id


def query_labels(text: Optional[str]) -> Tuple[str, ...]:
    """The labels of a typed query (lower-case, in order); ``UserError`` if unusable."""
    try:
        return parse_query(text if text is not None else "")
    except QueryError as exc:
        raise UserError(str(exc)) from None


def count_summary(counts: Dict[str, int]) -> str:
    """ "7 cars, 2 people": labels with at least one object, most first (ties: given order)."""
    found = [(label, n) for label, n in counts.items() if n > 0]
    if not found:
        return "nothing found"
    order = sorted(range(len(found)), key=lambda i: -found[i][1])
    return ", ".join(counted(found[i][1], found[i][0]) for i in order)


def _counts(labels: Sequence[str], kept: Sequence[Detection]) -> Dict[str, int]:
    counts = {label: 0 for label in labels}
    for d in kept:
        counts[d.label] = counts.get(d.label, 0) + 1
    return counts


def _message(labels: Sequence[str], selection: Selection, source: str) -> str:
    """The status line: found what, missing what, left out what and why."""
    counts = _counts(labels, selection.kept)
    t = f"{selection.threshold:.2f}"
    if not selection.kept:
        what = ", ".join(f"'{label}'" for label in labels) if labels else "anything"
        if selection.candidates and source != "detector":
            return (f"No box in the file has a score of at least {t} ({selection.candidates} below it): "
                    "lower the threshold.")
        if source != "detector":
            return "The file holds no boxes."
        return f"Found no {what} with a score of at least {t}: lower the threshold or try other words."
    parts = [f"Found {count_summary(counts)} (score >= {t})."]
    missing = [label for label, n in counts.items() if n == 0]
    if missing:
        parts.append(f"No {', '.join(missing)} found.")
    if selection.over_cap:
        parts.append(f"{selection.over_cap + len(selection.kept)} boxes passed the threshold; "
                     f"kept the {selection.max_objects} strongest.")
    if selection.duplicates:
        parts.append(f"{selection.duplicates} duplicate box{'es' if selection.duplicates != 1 else ''} merged.")
    return " ".join(parts)


def _outcome(labels: Tuple[str, ...], selection: Selection, objects: Tuple[FoundObject, ...],
             source: str) -> FindOutcome:
    categories, ids = coco_categories([d.label for d in selection.kept])
    return FindOutcome(
        objects=objects, boxes=selection.kept, labels=labels,
        summary=count_summary(_counts(labels, selection.kept)),
        message=_message(labels, selection, source), categories=categories, category_ids=ids,
    )


def _check_threshold(threshold: float) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise UserError(f"The threshold must be a number between 0 and 1, got {threshold!r}.") from None
    if not 0.0 <= value <= 1.0:
        raise UserError(f"The threshold must be between 0 and 1, got {value:g}.")
    return value


class Finder:
    """The process's detector, loaded on first use (under a lock), and Find for a session."""

    def __init__(self, device: Optional[str] = None, detector: Optional[str] = None,
                 max_objects: int = MAX_OBJECTS, short_side: Optional[int] = None) -> None:
        self.device = device
        self.name = detector or os.environ.get(DETECTOR_ENV) or DEFAULT_DETECTOR
        self.max_objects = max_objects
        self.short_side = short_side  # the detector's input size knob (see sam2.find.load_detector)
        self._detector: Any = None
        self._error: Optional[str] = None
        self._lock = threading.Lock()
        self.key = find_runner.register(self)  # how a ZeroGPU worker finds this finder (ui.find.finder.runner)

    @classmethod
    def with_detector(cls, detector: Any, max_objects: int = MAX_OBJECTS) -> "Finder":
        """A finder around an already built detector (tests, or a custom ``ZeroShotDetector``)."""
        finder = cls(max_objects=max_objects)
        finder._detector = detector
        finder.name = getattr(detector, "name", "") or type(detector).__name__
        return finder

    def unavailable_reason(self) -> Optional[str]:
        """Why Find cannot work in this process (no ``transformers``, or a load that failed), else None.

        Cheap: it does not load the detector (weights come on the first Find).
        """
        if self._detector is not None:
            return None
        if self._error is not None:
            return self._error
        try:
            import importlib.util

            if importlib.util.find_spec("transformers") is None:
                return ("Find is unavailable: it needs the `transformers` package "
                        "(pip install -r requirements.txt). The rest of the app works.")
        except (ImportError, ValueError):  # pragma: no cover - broken installs
            return "Find is unavailable: the `transformers` package cannot be imported."
        return None

    def detector(self, progress: Optional[Any] = None) -> Any:
        """The loaded detector; ``ModelUnavailableError`` with the reason if it cannot be loaded."""
        if self._detector is not None:
            return self._detector
        with self._lock:
            if self._detector is None:
                if progress is not None:
                    progress(None, f"Loading the detector {self.name} (first use downloads its weights)...")
                try:
                    from sam2.find import load_detector

                    self._detector = load_detector(self.name, device=self.device, short_side=self.short_side)
                except DetectorUnavailableError as exc:
                    log.warning("Find: the detector %s cannot be loaded: %s", self.name, exc)
                    self._error = detector_problem(self.name, str(exc))
                    raise ModelUnavailableError(self._error) from None
        return self._detector

    def find(self, predictor: Any, image: np.ndarray, text: Optional[str], threshold: float = DEFAULT_THRESHOLD,
             image_is_set: bool = True, progress: Optional[Any] = None) -> FindOutcome:
        """Objects (with masks) for a typed query on the image the predictor holds."""
        labels = query_labels(text)
        threshold = _check_threshold(threshold)
        self.detector(progress)  # loaded here first: its progress and its errors reach the page
        result: FindResult = find_runner.run_find_objects(predictor, image, labels, finder=self, threshold=threshold,
                                                          max_objects=self.max_objects, image_is_set=image_is_set)
        return _outcome(result.labels, result.selection, result.objects, "detector")

    def find_boxes(self, image: np.ndarray, text: Optional[str], threshold: float = DEFAULT_THRESHOLD,
                   progress: Optional[Any] = None) -> FindOutcome:
        """Boxes only (no masks) for a typed query: the video tab's Find on one frame."""
        labels = query_labels(text)
        threshold = _check_threshold(threshold)
        self.detector(progress)
        labels, selection = find_runner.run_find_boxes(image, labels, finder=self, threshold=threshold,
                                                       max_objects=self.max_objects)
        return _outcome(labels, selection, (), "detector")


def _read_boxes(image: np.ndarray, path: Optional[str], names_text: Optional[str]) -> List[Detection]:
    if not path:
        raise UserError("Upload a COCO detections .json or a YOLO .txt file first.")
    names = parse_class_names(names_text) if names_text and names_text.strip() else None
    try:
        return read_box_file(path, np.asarray(image).shape[:2], names=names)
    except BoxFileError as exc:
        raise UserError(str(exc)) from None


def boxes_from_file(predictor: Any, image: np.ndarray, path: Optional[str], threshold: float = 0.0,
                    names_text: Optional[str] = None, image_is_set: bool = True,
                    max_objects: int = MAX_OBJECTS) -> FindOutcome:
    """Objects (with masks) from an uploaded box file for the image the predictor holds."""
    threshold = _check_threshold(threshold)
    boxes = _read_boxes(image, path, names_text)
    result = find_runner.run_find_objects(predictor, image, boxes=boxes, threshold=threshold,
                                          max_objects=max_objects, image_is_set=image_is_set)
    return _outcome(result.labels, result.selection, result.objects, "file")


def boxes_file_boxes(image: np.ndarray, path: Optional[str], threshold: float = 0.0,
                     names_text: Optional[str] = None, max_objects: int = MAX_OBJECTS) -> FindOutcome:
    """Boxes only from an uploaded box file: the video tab's upload on one frame."""
    threshold = _check_threshold(threshold)
    boxes = _read_boxes(image, path, names_text)
    labels, selection = find_runner.run_find_boxes(image, boxes=boxes, threshold=threshold, max_objects=max_objects)
    return _outcome(labels, selection, (), "file")
