"""Brush and eraser strokes on an object's mask (the canvas's B and E tools), for both tabs.

A stroke is the footprint of one press-drag-release: the brush adds its pixels to the mask,
the eraser removes them. How a painted mask reaches the model differs by tab:

* Image tab (``ui.image.state``): a stroke is kept in the object's prompt history beside its
  points and box, and is applied AFTER the decoder: the object's mask is SAM's chosen
  candidate, then every stroke in the order made. A later click decodes the points and box
  again and the strokes are laid on the new mask once more, so hand corrections survive
  clicks; undo steps back through strokes like through points. The decoder never sees the
  strokes (feeding a painted mask back as a mask prompt changes SAM's answer in ways a user
  cannot predict).
* Video tab (``ui.video.state``): the object's mask on that frame with the stroke applied
  becomes the object's mask prompt on the frame (``add_new_mask``), so tracking follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from PIL import Image, ImageDraw

#: Most points one stroke keeps (the browser thins a long drag to fewer).
MAX_STROKE_POINTS = 4096
#: Largest brush radius, in original pixels.
MAX_RADIUS = 1000.0


@dataclass(frozen=True)
class Stroke:
    """One press-drag-release of the brush (``erase=False``) or the eraser, in original pixels
    (pixel centres at integers), ``radius`` in original pixels, on an image of size ``hw``."""

    points: Tuple[Tuple[float, float], ...]
    radius: float
    erase: bool
    hw: Tuple[int, int]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a stroke needs at least one point")
        if not 0 < self.radius <= MAX_RADIUS:
            raise ValueError(f"brush radius must be in (0, {MAX_RADIUS:g}] pixels, got {self.radius!r}")

    def footprint(self) -> Tuple[Tuple[int, int, int, int], np.ndarray]:
        """((x0, y0, x1, y1), bool array) of the pixels the stroke covers, cropped to its
        bounding box within the image (x1, y1 exclusive)."""
        h, w = self.hw
        r = float(self.radius)
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x0, y0 = max(0, int(np.floor(min(xs) - r))), max(0, int(np.floor(min(ys) - r)))
        x1, y1 = min(w, int(np.ceil(max(xs) + r)) + 1), min(h, int(np.ceil(max(ys) + r)) + 1)
        if x1 <= x0 or y1 <= y0:
            return (0, 0, 0, 0), np.zeros((0, 0), bool)
        img = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(img)
        local = [(x - x0, y - y0) for x, y in self.points]
        if len(local) > 1:
            draw.line(local, fill=255, width=max(1, int(round(2 * r))), joint="curve")
        for x, y in (local[0], local[-1]) if len(local) > 1 else local:  # round ends
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        return (x0, y0, x1, y1), np.asarray(img) > 0

    def apply(self, mask: np.ndarray) -> None:
        """Paint (or erase) this stroke into ``mask`` (H x W bool, the image's size) in place."""
        if mask.shape != tuple(self.hw):
            raise ValueError(f"stroke made on a {self.hw} image, mask is {mask.shape}")
        (x0, y0, x1, y1), covered = self.footprint()
        if not covered.size:
            return
        region = mask[y0:y1, x0:x1]
        if self.erase:
            region &= ~covered
        else:
            region |= covered


def apply_strokes(mask: np.ndarray, strokes: Tuple[Stroke, ...]) -> np.ndarray:
    """``mask`` with ``strokes`` applied in order (a new array; ``mask`` is not changed)."""
    out = np.array(mask, dtype=bool, copy=True)
    for s in strokes:
        s.apply(out)
    return out
