"""The picture and mask primitives the canvas draws with, and the colours it draws in.

The browser gets a copy of the picture at most ``MAX_DISPLAY_SIDE`` pixels on its long side
(a 12-megapixel PNG after every click is slow and the screen cannot show it anyway); masks
are scaled to it. The canvas package is self-contained: these live here, and the app's
drawing (``ui.common.overlay``) builds on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
from PIL import Image

#: Long side, in pixels, of the image shown in the browser. Larger images are downscaled
#: for display only; prompts, masks and downloads keep the original resolution.
MAX_DISPLAY_SIDE = 1280

#: Object colours (RGB): distinct, readable over photos, in the order objects are created.
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (30, 144, 255),   # dodger blue
    (255, 140, 0),    # dark orange
    (186, 85, 211),   # orchid
    (0, 206, 209),    # turquoise
    (255, 215, 0),    # gold
    (255, 20, 147),   # deep pink
    (124, 252, 0),    # lawn green
    (139, 69, 19),    # saddle brown
    (70, 130, 180),   # steel blue
    (240, 128, 128),  # light coral
)

FOREGROUND_RGB = (0, 200, 60)
BACKGROUND_RGB = (230, 30, 30)
OUTLINE_RGB = (255, 255, 255)


def object_color(index: int) -> Tuple[int, int, int]:
    """The colour of the ``index``-th object (0-based); cycles through ``PALETTE``."""
    return PALETTE[index % len(PALETTE)]


def color_hex(rgb: Sequence[int]) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb[:3])


@dataclass(frozen=True)
class DisplayImage:
    """The image as shown in the browser and how it maps to the original."""

    pixels: np.ndarray  # HxWx3 uint8, display size
    scale: float  # display pixels per original pixel (<= 1, or > 1 for an enlarged small frame)
    orig_hw: Tuple[int, int]

    def to_original(self, x: float, y: float) -> Tuple[float, float]:
        """Map a click on the displayed image to original-image pixel coordinates."""
        h, w = self.orig_hw
        ox = (float(x) + 0.5) / self.scale - 0.5
        oy = (float(y) + 0.5) / self.scale - 0.5
        return min(max(ox, 0.0), w - 1.0), min(max(oy, 0.0), h - 1.0)

    def to_display(self, x: float, y: float) -> Tuple[float, float]:
        return (float(x) + 0.5) * self.scale - 0.5, (float(y) + 0.5) * self.scale - 0.5


def display_scale(height: int, width: int, max_side: int = MAX_DISPLAY_SIDE, min_side: int = 0,
                  max_zoom: float = 4.0) -> float:
    """Factor that brings the long side down to ``max_side`` (1.0 when already small).

    With ``min_side``, a picture whose long side is shorter is enlarged to it instead (at
    most ``max_zoom`` times): small video frames are hard to click on at their own size.
    """
    long_side = max(height, width)
    if long_side < min_side:
        return min(max_zoom, min_side / float(long_side))
    return 1.0 if long_side <= max_side else max_side / float(long_side)


def make_display(image: np.ndarray, max_side: int = MAX_DISPLAY_SIDE, min_side: int = 0) -> DisplayImage:
    """A display copy of an HxWx3 uint8 image, downscaled if its long side exceeds ``max_side``
    (enlarged if it is under ``min_side``, see ``display_scale``)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    scale = display_scale(h, w, max_side, min_side)
    if scale == 1.0:
        return DisplayImage(image, 1.0, (h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    method = Image.Resampling.BILINEAR if scale > 1.0 else Image.Resampling.LANCZOS
    pixels = np.asarray(Image.fromarray(image).resize(size, method))
    # Use the realised scale so that clicks map back exactly.
    return DisplayImage(pixels, size[0] / float(w), (h, w))


def resize_mask(mask: np.ndarray, hw: Tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize a boolean mask to ``hw`` = (height, width) (area-weighted, then thresholded).

    ``nearest``: sample the nearest pixel instead, ~30x faster when shrinking (0.3 vs 10 ms
    for 1800x1200 -> 1280x853); edges may differ by one pixel, which is what a mask drawn
    in the browser after every click can afford."""
    if mask.shape == tuple(hw):
        return mask.astype(bool, copy=False)
    img = Image.fromarray(mask.astype(np.uint8) * 255)
    shrink = _shrinks(mask.shape, hw) and not nearest
    method = Image.Resampling.BILINEAR if shrink else Image.Resampling.NEAREST
    small = img.resize((hw[1], hw[0]), method)
    return np.asarray(small) >= 128


def _shrinks(src: Tuple[int, ...], dst: Tuple[int, int]) -> bool:
    return dst[0] < src[0] or dst[1] < src[1]


def mask_edges(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood): the outline."""
    m = mask.astype(bool, copy=False)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return m & ~inner
