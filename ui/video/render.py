"""Draw tracked objects onto video frames, with the effects of the official SAM 2 demo.

Every effect takes the frame (H x W x 3 uint8) and the objects' masks at frame size with
their colours, and returns a new frame; the preview MP4 is these frames written with
``sam2.media.mp4`` (H.264, yuv420p: plays in every browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ui.common import overlay

Color = Tuple[int, int, int]


@dataclass(frozen=True)
class Layer:
    """One object's mask on one frame (H x W bool, frame size) and its colour."""

    mask: np.ndarray
    color: Color


#: (label, key) pairs for the effect picker; the key is what the API takes.
EFFECT_CHOICES: List[Tuple[str, str]] = [
    ("Coloured masks with outlines", "overlay"),
    ("Highlight objects (dim the background)", "highlight"),
    ("Cut out on white", "cutout"),
    ("Cut out on blurred background", "blur"),
    ("Pixelate objects", "pixelate"),
    ("Erase objects (fill from surroundings)", "erase"),
]
EFFECTS = tuple(key for _, key in EFFECT_CHOICES)


def _union(layers: Sequence[Layer], hw: Tuple[int, int]) -> np.ndarray:
    out = np.zeros(hw, dtype=bool)
    for layer in layers:
        out |= layer.mask
    return out


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    """A band of about ``width`` pixels along the mask's boundary (inside and outside)."""
    import cv2

    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8) if width > 1 else np.ones((3, 3), np.uint8)
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, k) > 0) & ~(cv2.erode(m, k) > 0)


def _outline_width(hw: Tuple[int, int]) -> int:
    return max(1, int(round(min(hw) / 240)))


def _draw_outlines(out: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    w = _outline_width(out.shape[:2])
    for layer in layers:
        if layer.mask.any():
            out[_outline(layer.mask, w)] = layer.color
    return out


def _overlay(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    tinted = overlay.blend_masks(frame, ((layer.mask, layer.color) for layer in layers), alpha=0.5, outline=False)
    return _draw_outlines(tinted, layers)


def _highlight(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    union = _union(layers, frame.shape[:2])
    gray = frame.astype(np.float32).mean(axis=2, keepdims=True)
    dim = (0.25 * gray + 0.1 * frame.astype(np.float32)).clip(0, 255).astype(np.uint8)
    out = np.where(union[..., None], frame, np.broadcast_to(dim, frame.shape)).astype(np.uint8)
    return _draw_outlines(out, layers)


def _cutout(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    union = _union(layers, frame.shape[:2])
    out = np.full_like(frame, 255)
    out[union] = frame[union]
    return out


def _blur(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    import cv2

    union = _union(layers, frame.shape[:2])
    k = max(3, (min(frame.shape[:2]) // 20) | 1)
    blurred = cv2.GaussianBlur(frame, (k, k), 0)
    out = np.where(union[..., None], frame, blurred).astype(np.uint8)
    return _draw_outlines(out, layers)


def _pixelate(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    import cv2

    union = _union(layers, frame.shape[:2])
    if not union.any():
        return frame.copy()
    h, w = frame.shape[:2]
    block = max(6, min(h, w) // 30)
    small = cv2.resize(frame, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    blocky = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    out = frame.copy()
    out[union] = blocky[union]
    return out


def _erase(frame: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    """Fill the objects from their surroundings (OpenCV's Telea inpainting).

    Inpainting cost grows with the area, so very large masks are filled at a lower
    resolution and upscaled (the filled area is blurry anyway).
    """
    import cv2

    union = _union(layers, frame.shape[:2])
    if not union.any():
        return frame.copy()
    h, w = frame.shape[:2]
    grow = cv2.dilate(union.astype(np.uint8), np.ones((5, 5), np.uint8))
    scale = 1.0 if union.sum() < 20000 else (20000.0 / union.sum()) ** 0.5
    if scale < 1.0:
        sw, sh = max(8, int(w * scale)), max(8, int(h * scale))
        small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(grow, (sw, sh), interpolation=cv2.INTER_NEAREST)
        filled = cv2.resize(cv2.inpaint(small, small_mask, 3, cv2.INPAINT_TELEA), (w, h),
                            interpolation=cv2.INTER_LINEAR)
    else:
        filled = cv2.inpaint(frame, grow, 3, cv2.INPAINT_TELEA)
    out = frame.copy()
    m = grow > 0
    out[m] = filled[m]
    return out


_RENDERERS: Dict[str, Callable[[np.ndarray, Sequence[Layer]], np.ndarray]] = {
    "overlay": _overlay,
    "highlight": _highlight,
    "cutout": _cutout,
    "blur": _blur,
    "pixelate": _pixelate,
    "erase": _erase,
}


def check_effect(effect: Optional[str]) -> str:
    """The effect key for ``effect`` (a key or a label; None means "overlay")."""
    if not effect:
        return "overlay"
    for label, key in EFFECT_CHOICES:
        if effect in (key, label):
            return key
    raise ValueError(f"unknown effect {effect!r}; use one of {', '.join(EFFECTS)}")


def render_frame(frame: np.ndarray, layers: Iterable[Layer], effect: str = "overlay") -> np.ndarray:
    """``frame`` with the objects drawn by ``effect`` (see ``EFFECT_CHOICES``)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 frame, got {frame.dtype} {frame.shape}")
    ls = [layer for layer in layers if layer.mask is not None]
    for layer in ls:
        if layer.mask.shape != frame.shape[:2]:
            raise ValueError(f"mask {layer.mask.shape} does not match the frame {frame.shape[:2]}")
    if not ls:
        return frame.copy() if effect != "cutout" else np.full_like(frame, 255)
    return _RENDERERS[check_effect(effect)](frame, ls)
