"""Find and count: text (through a detector) or given boxes in, one SAM 2 mask per object out.

The use case named by the SAM 2 guide, "pair with a detector for bounding boxes, feed those
to SAM 2 for precise masks"::

    result = find_objects(predictor, image, "car, person", detector=load_detector())
    result.counts()                      # {"car": 7, "person": 2}
    for obj in result.objects:           # strongest first
        obj.label, obj.score, obj.box, obj.mask, obj.predicted_iou

Steps: the query's labels (``parse_query``) go to the detector; the boxes pass
``select_detections`` (score >= threshold, a detector's duplicates merged, at most
``max_objects``, strongest first); SAM 2 encodes the image once (only if some box is
kept) and decodes all kept boxes in one batched ``predict(box=N x 4,
multimask_output=False)`` call, split only when N full-size masks would exceed a memory
budget. ``find_boxes`` is the same without the masks, for callers that segment the boxes
themselves (the video tab gives them to the video predictor).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from sam2.find.detections import (
    DEFAULT_NMS_IOU,
    DEFAULT_THRESHOLD,
    MAX_OBJECTS,
    Detection,
    Selection,
    clip_to_image,
    select_detections,
)
from sam2.find.detector import ZeroShotDetector
from sam2.find.query import parse_query
from sam2.media.images import to_rgb_uint8

#: Full-resolution float32 logits decoded at once are kept under this many bytes; more boxes
#: than fit are decoded in several batched calls (same masks, bounded memory).
DECODE_BUDGET_BYTES = 256 * 1024 * 1024
#: The masks returned by one call stay under this many bytes (one byte per pixel each): on a
#: very large image the cap on objects is lowered to fit (100 masks of a 12 MP photo would
#: be 1.2 GB). ``FindResult.selection.max_objects`` is the cap that was applied.
MASKS_BUDGET_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class FoundObject:
    """One object: where the detector (or file) put it and the mask SAM 2 gave its box."""

    label: str
    score: float  # the detector's (or file's) confidence
    box: Tuple[float, float, float, float]  # the prompt box, XYXY image pixels
    mask: np.ndarray = field(repr=False)  # H x W bool, image size
    predicted_iou: float  # SAM 2's estimate of the mask's quality
    low_res_logits: Optional[np.ndarray] = field(default=None, repr=False)  # 256 x 256, to refine with


@dataclass(frozen=True)
class FindResult:
    """What ``find_objects`` found, and why other candidate boxes were left out."""

    objects: Tuple[FoundObject, ...]
    labels: Tuple[str, ...]  # the query's labels (or, for given boxes, the labels in them)
    selection: Selection

    def counts(self) -> Dict[str, int]:
        """Objects per label, every query label present (0 when none was found), query order."""
        found = Counter(o.label for o in self.objects)
        out = {label: found.get(label, 0) for label in self.labels}
        for label, n in found.items():
            out.setdefault(label, n)
        return out

    @property
    def missing_labels(self) -> Tuple[str, ...]:
        """Query labels with no object."""
        return tuple(label for label, n in self.counts().items() if n == 0)


def find_boxes(
    image: np.ndarray,
    query: Union[str, Sequence[str], None] = None,
    *,
    boxes: Optional[Sequence[Detection]] = None,
    detector: Optional[ZeroShotDetector] = None,
    threshold: float = DEFAULT_THRESHOLD,
    max_objects: int = MAX_OBJECTS,
    nms_iou: Optional[float] = DEFAULT_NMS_IOU,
) -> Tuple[Tuple[str, ...], Selection]:
    """The boxes that become objects: ``(labels, selection)``; no SAM 2 involved.

    Give ``query`` and ``detector``, or ``boxes`` (from ``read_box_file`` or your own
    ``Detection`` list; ``nms_iou`` is not applied to them). Raises ``QueryError`` for an
    unusable query and ``ValueError`` for bad arguments.
    """
    if (query is None) == (boxes is None):
        raise ValueError("give either a text query (with a detector) or boxes, not both or neither")
    rgb = to_rgb_uint8(image)
    hw = rgb.shape[:2]
    if query is not None:
        labels = parse_query(query)
        if detector is None:
            raise ValueError("a text query needs a detector: detector=load_detector()")
        candidates = clip_to_image(detector.detect(rgb, labels), hw)
        return labels, select_detections(candidates, threshold, max_objects, nms_iou)
    given = [b if isinstance(b, Detection) else Detection(tuple(b), "object") for b in boxes]
    labels = tuple(dict.fromkeys(d.label for d in given))
    return labels, select_detections(clip_to_image(given, hw), threshold, max_objects, None)


def find_objects(
    predictor,
    image: np.ndarray,
    query: Union[str, Sequence[str], None] = None,
    *,
    boxes: Optional[Sequence[Detection]] = None,
    detector: Optional[ZeroShotDetector] = None,
    threshold: float = DEFAULT_THRESHOLD,
    max_objects: int = MAX_OBJECTS,
    nms_iou: Optional[float] = DEFAULT_NMS_IOU,
    image_is_set: bool = False,
    keep_low_res_logits: bool = False,
) -> FindResult:
    """Find objects by text or boxes in ``image`` and segment each with SAM 2.

    ``predictor`` is a ``SAM2ImagePredictor``. With ``image_is_set=True`` the caller has
    already run ``predictor.set_image(image)`` (the app, which keeps the embedding per
    session) and it is not encoded again. Objects come strongest first; boxes lying partly
    outside the image are clipped. ``keep_low_res_logits`` keeps each mask's 256 x 256
    logits (to refine it later with ``mask_input``). On images over 10 megapixels the cap
    is lowered so that the masks fit in ``MASKS_BUDGET_BYTES`` (1 GiB).
    """
    rgb = to_rgb_uint8(image)
    pixels = int(rgb.shape[0]) * int(rgb.shape[1])
    max_objects = min(int(max_objects), max(1, MASKS_BUDGET_BYTES // pixels))
    labels, selection = find_boxes(rgb, query, boxes=boxes, detector=detector, threshold=threshold,
                                   max_objects=max_objects, nms_iou=nms_iou)
    kept = selection.kept
    if not kept:
        return FindResult((), labels, selection)
    if image_is_set:
        orig = getattr(predictor, "_orig_hw", None)
        if not orig or tuple(orig[-1]) != tuple(rgb.shape[:2]):
            raise RuntimeError("image_is_set=True but the predictor holds no image of this size; "
                               "call predictor.set_image(image) or pass image_is_set=False")
    else:
        predictor.set_image(rgb)
    masks, ious, low_res = _decode_boxes(predictor, np.array([d.box for d in kept], dtype=np.float32), rgb.shape[:2])
    objects = tuple(
        FoundObject(
            label=d.label, score=d.score, box=d.box, mask=masks[i], predicted_iou=float(ious[i]),
            low_res_logits=low_res[i] if keep_low_res_logits else None,
        )
        for i, d in enumerate(kept)
    )
    return FindResult(objects, labels, selection)


def _decode_boxes(predictor, boxes: np.ndarray, hw: Tuple[int, int]):
    """Masks (N x H x W bool), predicted IoUs (N) and low-res logits (N x 256 x 256) of N boxes."""
    n = boxes.shape[0]
    per_call = max(1, DECODE_BUDGET_BYTES // (4 * int(hw[0]) * int(hw[1])))
    masks: List[np.ndarray] = []
    ious: List[np.ndarray] = []
    low: List[np.ndarray] = []
    for start in range(0, n, per_call):
        chunk = boxes[start:start + per_call]
        m, s, lr = predictor.predict(box=chunk, multimask_output=False)
        k = chunk.shape[0]  # one box comes back without its leading axis: reshape both cases alike
        masks.append(np.asarray(m).reshape(k, *hw))
        ious.append(np.asarray(s).reshape(k))
        low.append(np.asarray(lr).reshape(k, *np.asarray(lr).shape[-2:]))
    return np.concatenate(masks), np.concatenate(ious), np.concatenate(low)


def coco_categories(labels: Sequence[str]) -> Tuple[List[Dict[str, object]], Dict[str, int]]:
    """COCO ``categories`` for the labels found, in first-seen order, and label -> id.

    ``["car", "person", "car"]`` -> ``([{"id": 1, "name": "car"}, {"id": 2, "name":
    "person"}], {"car": 1, "person": 2})``; an export gives each annotation
    ``category_id = ids[label]``.
    """
    ids: Dict[str, int] = {}
    for label in labels:
        ids.setdefault(str(label), len(ids) + 1)
    return [{"id": i, "name": name} for name, i in ids.items()], ids
