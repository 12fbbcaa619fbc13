"""The automatic mask generator's main knobs as one checked value.

The app's "Segment everything" panel and the batch command's ``--everything`` expose the same
subset of ``SAM2AutomaticMaskGenerator``'s arguments; one dataclass holds them, checks their
ranges once (a bad value is a clear ``ValueError`` before any model work) and turns them into the
generator's keyword arguments, so the two front ends cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict


@dataclass(frozen=True)
class MaskGeneratorSettings:
    """Points grid, filters and crops of one segment-everything run (the official defaults)."""

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.8
    stability_score_thresh: float = 0.95
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    min_mask_region_area: int = 0
    use_m2m: bool = False

    def validated(self):
        """These settings, or a ``ValueError`` naming the first one out of range."""
        if not 1 <= self.points_per_side <= 128:
            raise ValueError(f"points per side must be between 1 and 128, got {self.points_per_side}")
        if not 1 <= self.points_per_batch <= 1024:
            raise ValueError(f"points per batch must be between 1 and 1024, got {self.points_per_batch}")
        for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name.replace('_', ' ')} must be in [0, 1], got {v}")
        if not 0 <= self.crop_n_layers <= 3:
            raise ValueError(f"crop layers must be between 0 and 3, got {self.crop_n_layers}")
        if self.min_mask_region_area < 0:
            raise ValueError("minimum region area must not be negative")
        return self

    @property
    def crops(self) -> int:
        """Image crops encoded: the whole image, then 4**i crops in layer i."""
        return sum(4 ** i for i in range(self.crop_n_layers + 1))

    @property
    def prompts(self) -> int:
        """Grid points over all crops (each crop gets the full grid: the generator's
        crop_n_points_downscale_factor is left at 1)."""
        return self.points_per_side ** 2 * self.crops

    def generator_kwargs(self) -> Dict[str, Any]:
        """``SAM2AutomaticMaskGenerator`` keyword arguments for these settings."""
        return dataclasses.asdict(self)
