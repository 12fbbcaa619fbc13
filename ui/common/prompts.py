"""The prompt vocabulary both tabs share: points and boxes.

One home, so the video side does not import image-side modules for its words."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

Point = Tuple[float, float, int]  # x, y (original pixels), label 1 = foreground, 0 = background
Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 (original pixels), x0 < x1, y0 < y1

class PointsAndBox:
    """Mixin for prompt dataclasses with ``points`` (tuple of ``Point``) and ``box``."""

    points: Tuple[Point, ...]
    box: Optional[Box]

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None

    def point_arrays(self) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(N x 2 float32 coordinates, N int32 labels), or (None, None) without points."""
        if not self.points:
            return None, None
        coords = np.array([[p[0], p[1]] for p in self.points], dtype=np.float32)
        labels = np.array([p[2] for p in self.points], dtype=np.int32)
        return coords, labels

    def box_array(self) -> Optional[np.ndarray]:
        return None if self.box is None else np.array(self.box, dtype=np.float32)
