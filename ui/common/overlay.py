"""Pictures for the browser and the API: masks, points and boxes drawn over an image (numpy +
PIL), on the canvas's primitives (``ui.canvas.raster``: display copies, mask scaling, colours).

Masks are kept at the original image size for exports; coordinates passed here are in
original-image pixels and are scaled to the display image.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ui.canvas.raster import BACKGROUND_RGB, FOREGROUND_RGB, OUTLINE_RGB, DisplayImage, display_scale, mask_edges, resize_mask

def blend_masks(
    base: np.ndarray,
    masks: Iterable[Tuple[np.ndarray, Tuple[int, int, int]]],
    alpha: float = 0.5,
    outline: bool = True,
) -> np.ndarray:
    """Tint ``base`` (HxWx3 uint8) with each (mask, colour); masks are resized to ``base``."""
    # Only masked pixels are touched (in float), so a click costs time in proportion to the
    # mask, not to the whole picture.
    out = np.array(base, dtype=np.uint8, copy=True)
    hw = base.shape[:2]
    edges_all: List[Tuple[np.ndarray, Tuple[int, int, int]]] = []
    for mask, color in masks:
        m = resize_mask(np.asarray(mask), hw)
        if not m.any():
            continue
        col = np.asarray(color, dtype=np.float32)
        tinted = out[m].astype(np.float32) * (1.0 - alpha) + col * alpha
        out[m] = np.clip(tinted + 0.5, 0, 255).astype(np.uint8)
        if outline:
            edges_all.append((mask_edges(m), color))
    for edges, color in edges_all:
        out[edges] = np.asarray(color, dtype=np.uint8)
    return out


def _marker_radius(hw: Tuple[int, int]) -> int:
    return int(max(4, min(14, round(min(hw) / 90))))


def draw_prompts(
    image: np.ndarray,
    display: DisplayImage,
    points: Sequence[Tuple[float, float, int]] = (),
    box: Optional[Sequence[float]] = None,
    box_color: Tuple[int, int, int] = (255, 255, 0),
) -> np.ndarray:
    """Draw points (green = foreground, red = background) and a box.

    ``image`` is a display-size HxWx3 uint8 array; coordinates are in original pixels.
    """
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    r = _marker_radius(image.shape[:2])
    width = max(2, r // 3)
    if box is not None:
        x0, y0 = display.to_display(box[0], box[1])
        x1, y1 = display.to_display(box[2], box[3])
        rect = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
        # A white halo keeps the box visible over objects of the same colour.
        draw.rectangle([rect[0] - 2, rect[1] - 2, rect[2] + 2, rect[3] + 2], outline=OUTLINE_RGB, width=width + 4)
        draw.rectangle(rect, outline=box_color, width=width)
    for x, y, label in points:
        cx, cy = display.to_display(x, y)
        fill = FOREGROUND_RGB if int(label) == 1 else BACKGROUND_RGB
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=OUTLINE_RGB, width=max(1, r // 4))
    return np.asarray(pil)


def colorize_everything(
    base: np.ndarray, masks: Sequence[np.ndarray], alpha: float = 0.55, seed: int = 0
) -> np.ndarray:
    """Overlay of many masks (e.g. "segment everything"), each in its own random colour.

    Larger masks are painted first so that small parts stay visible on top of them.
    """
    rng = np.random.default_rng(seed)
    # A packed stack knows each mask's area; counting pixels would unpack every mask twice.
    area = getattr(masks, "area", None) or (lambda i: int(np.count_nonzero(masks[i])))
    order = sorted(range(len(masks)), key=lambda i: -area(i))
    colors = [tuple(int(c) for c in rng.integers(40, 256, size=3)) for _ in masks]
    return blend_masks(base, ((masks[i], colors[i]) for i in order), alpha=alpha, outline=True)


def thumbnail(image: np.ndarray, max_side: int = 256) -> np.ndarray:
    """A small copy for galleries (candidate masks)."""
    h, w = image.shape[:2]
    s = display_scale(h, w, max_side)
    if s >= 1.0:
        return image
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
