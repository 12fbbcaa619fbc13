"""Boxes with a label and a score, and the rules that decide which become objects.

A detector, or a box file from elsewhere, gives candidate boxes; ``select_detections``
keeps those whose score is at least the threshold, merges a detector's near-duplicates
of one label (optional box NMS), and keeps at most ``max_objects``, strongest first, so
a detector that returns hundreds of boxes cannot turn one request into hundreds of masks.
It also counts what it dropped and why, so a caller can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from sam2.utils.boxes import batched_nms

#: Default score threshold: Grounding DINO's usual box threshold.
DEFAULT_THRESHOLD = 0.3
#: Default cap on objects made from one image (strongest first).
MAX_OBJECTS = 100
#: Default IoU above which a detector's boxes of one label are duplicates (the weaker goes).
DEFAULT_NMS_IOU = 0.7

Box = Tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One candidate object: a box (x0, y0, x1, y1 in image pixels), a label and a score."""

    box: Box
    label: str
    score: float = 1.0

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = (float(v) for v in self.box)
        if not all(np.isfinite([x0, y0, x1, y1, float(self.score)])):
            raise ValueError(f"a detection needs finite numbers, got box {self.box} score {self.score}")
        if x1 < x0 or y1 < y0:
            raise ValueError(f"a box is x0, y0, x1, y1 with x1 >= x0 and y1 >= y0, got {self.box}")
        object.__setattr__(self, "box", (x0, y0, x1, y1))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "label", str(self.label))


@dataclass(frozen=True)
class Selection:
    """The detections that become objects (strongest first) and what was left out."""

    kept: Tuple[Detection, ...]
    candidates: int  # every box given
    below_threshold: int  # score < threshold
    duplicates: int  # merged into a stronger box of the same label (NMS)
    over_cap: int  # above the threshold but beyond max_objects
    threshold: float
    max_objects: int


def clip_to_image(detections: Sequence[Detection], image_hw: Tuple[int, int]) -> List[Detection]:
    """Boxes clipped to the image; boxes left with no area inside it are dropped."""
    h, w = int(image_hw[0]), int(image_hw[1])
    out = []
    for d in detections:
        x0, y0, x1, y1 = d.box
        box = (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w), min(max(y1, 0.0), h))
        if box[2] > box[0] and box[3] > box[1]:
            out.append(Detection(box, d.label, d.score))
    return out


def select_detections(
    detections: Sequence[Detection],
    threshold: float = DEFAULT_THRESHOLD,
    max_objects: int = MAX_OBJECTS,
    nms_iou: Optional[float] = None,
) -> Selection:
    """Keep detections with ``score >= threshold``, at most ``max_objects``, strongest first.

    With ``nms_iou`` a box overlapping a stronger kept box of the same label by more than
    that IoU is a duplicate and goes (a detector's habit; boxes from a file are taken as
    they are unless asked). Equal scores keep their input order.
    """
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if int(max_objects) < 1:
        raise ValueError(f"max_objects must be at least 1, got {max_objects}")
    if nms_iou is not None and not 0.0 < float(nms_iou) <= 1.0:
        raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")
    passing = [d for d in detections if d.score >= threshold]
    order = sorted(range(len(passing)), key=lambda i: -passing[i].score)  # stable: ties keep order
    ranked = [passing[i] for i in order]
    duplicates = 0
    if nms_iou is not None and len(ranked) > 1:
        labels = sorted({d.label for d in ranked})
        keep = batched_nms(
            torch.tensor([d.box for d in ranked], dtype=torch.float32),
            torch.tensor([d.score for d in ranked], dtype=torch.float32),
            torch.tensor([labels.index(d.label) for d in ranked]),
            float(nms_iou),
        ).tolist()
        duplicates = len(ranked) - len(keep)
        ranked = [ranked[i] for i in sorted(keep)]  # sorted positions: still strongest first
    kept = ranked[: int(max_objects)]
    return Selection(
        kept=tuple(kept),
        candidates=len(detections),
        below_threshold=len(detections) - len(passing),
        duplicates=duplicates,
        over_cap=len(ranked) - len(kept),
        threshold=float(threshold),
        max_objects=int(max_objects),
    )
