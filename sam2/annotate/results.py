"""What annotating one item gives, before it is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Found:
    """One object of an image: its mask and how it was obtained."""

    label: str
    mask: np.ndarray = field(repr=False)  # H x W bool
    score: float = 1.0  # the detector's / box file's confidence (1 for points and everything)
    predicted_iou: Optional[float] = None
    stability_score: Optional[float] = None
    prompt_box: Optional[Tuple[float, float, float, float]] = None  # XYXY pixels
    point_coords: Sequence[Sequence[float]] = ()
    point_labels: Sequence[int] = ()


@dataclass
class ItemResult:
    """The outcome of one item: ``done`` (with its objects), ``skipped`` or ``failed`` (with a reason)."""

    key: str
    kind: str
    status: str
    reason: str = ""
    height: int = 0
    width: int = 0
    objects: List[Found] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)  # videos: frames, tracks, files

    @classmethod
    def failed(cls, key: str, kind: str, reason: str) -> "ItemResult":
        return cls(key, kind, "failed", " ".join(str(reason).split())[:500])

    @classmethod
    def skipped(cls, key: str, kind: str, reason: str) -> "ItemResult":
        return cls(key, kind, "skipped", reason)
