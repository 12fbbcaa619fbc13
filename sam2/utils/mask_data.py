"""``MaskData``: the automatic mask generator's masks between stages, as aligned typed columns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import List, Sequence

import numpy as np
import torch

from sam2.utils.rle import UncompressedRLE

__all__ = ["MaskData"]


def _take(value, keep: torch.Tensor):
    if isinstance(value, torch.Tensor):
        return value[keep.to(value.device)]
    if isinstance(value, np.ndarray):
        return value[keep.cpu().numpy()]
    if isinstance(value, list):
        if keep.dtype == torch.bool:
            return [item for item, k in zip(value, keep.tolist()) if k]
        return [value[i] for i in keep.tolist()]
    raise TypeError(f"cannot filter a {type(value).__name__}")


@dataclass
class MaskData:
    """The generator's masks between stages, as aligned columns (one row per mask).

    Masks are kept as uncompressed RLEs (a few kB each instead of H x W bytes), boxes are
    XYXY with inclusive ends, all tensors live on the CPU.
    """

    rles: List[UncompressedRLE] = field(default_factory=list)
    boxes: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 4, dtype=torch.int64))
    iou_preds: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    points: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 2))
    stability_score: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    crop_boxes: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 4, dtype=torch.int64))

    def __post_init__(self) -> None:
        n = len(self.rles)
        for f in fields(self):
            value = getattr(self, f.name)
            if len(value) != n:
                raise ValueError(f"MaskData columns disagree: {n} rles but {len(value)} {f.name}")

    def __len__(self) -> int:
        return len(self.rles)

    def __getitem__(self, key: str):
        """``data["rles"]`` etc., for code written against the reference's dict-like class."""
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def filter(self, keep: torch.Tensor) -> "MaskData":
        """Rows selected by a boolean mask or by indices (in that order); a new object."""
        keep = torch.as_tensor(keep)
        return MaskData(**{f.name: _take(getattr(self, f.name), keep) for f in fields(self)})

    @staticmethod
    def cat(parts: Sequence["MaskData"]) -> "MaskData":
        """Rows of all parts, in order."""
        parts = list(parts)
        if not parts:
            return MaskData()
        columns = {}
        for f in fields(MaskData):
            values = [getattr(p, f.name) for p in parts]
            if f.name == "rles":
                columns[f.name] = [r for v in values for r in v]
            else:
                columns[f.name] = torch.cat(values, dim=0)
        return MaskData(**columns)

    def with_columns(self, **changes) -> "MaskData":
        """A copy with some columns replaced (checked for length)."""
        return replace(self, **changes)
