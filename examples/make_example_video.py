"""Draw the video tab's example clip with code: ``python examples/make_example_video.py``.

``moving_shapes.mp4``: 20 frames of 320x240 at 8 fps (2.5 s) — a red ball rolling right,
a blue square gliding down-left and a yellow star turning in place, over a soft gradient
floor. Short and small on purpose: tracking runs seconds per frame on a CPU. The drawing
is deterministic (same code, same pixels) and written with ``sam2.media.mp4`` (H.264,
yuv420p), so every browser plays it.
"""

from __future__ import annotations

import math
import os
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "moving_shapes.mp4"


def _background(w: int, h: int) -> Image.Image:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([214, 226, 238], np.float32), np.array([160, 170, 150], np.float32)
    rows = top * (1 - t) + bottom * t
    img = np.repeat(rows, w, axis=1)
    img[int(h * 0.72):] *= 0.85  # a floor
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def _star(cx: float, cy: float, r: float, angle: float) -> List[Tuple[float, float]]:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.45
        a = angle + k * math.pi / 5
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def frames(n: int = 20, w: int = 320, h: int = 240, seed: int = 7) -> List[np.ndarray]:
    """The clip's frames as H x W x 3 uint8 RGB."""
    rng = np.random.default_rng(seed)
    bg = _background(w, h)
    out = []
    for i in range(n):
        a = i / max(1, n - 1)
        img = bg.copy()
        d = ImageDraw.Draw(img)
        # yellow star, turning in place (behind the others)
        d.polygon(_star(w * 0.72, h * 0.3, 34, a * math.pi), fill=(240, 200, 40), outline=(150, 110, 10))
        # blue square, gliding down-left
        sx, sy = w * 0.78 - a * w * 0.35, h * 0.28 + a * h * 0.38
        d.rectangle([sx - 26, sy - 26, sx + 26, sy + 26], fill=(50, 100, 200), outline=(20, 40, 110), width=2)
        # red ball, rolling right along the floor, with a shadow
        bx, by = w * 0.12 + a * w * 0.6, h * 0.72 - 30
        d.ellipse([bx - 30, h * 0.72 - 6, bx + 30, h * 0.72 + 6], fill=(110, 118, 100))
        d.ellipse([bx - 30, by - 30, bx + 30, by + 30], fill=(210, 50, 45), outline=(120, 20, 20), width=2)
        d.ellipse([bx - 16, by - 20, bx - 4, by - 8], fill=(245, 150, 140))
        arr = np.asarray(img).astype(np.int16)
        arr += rng.integers(-3, 4, size=arr.shape[:2], dtype=np.int16)[..., None]  # faint sensor noise
        out.append(arr.clip(0, 255).astype(np.uint8))
    return out


def main(out_dir: str = HERE) -> str:
    from sam2.media.mp4 import write_mp4

    os.makedirs(out_dir, exist_ok=True)
    return write_mp4(os.path.join(out_dir, NAME), frames(), fps=8)


if __name__ == "__main__":
    path = main()
    print(path, os.path.getsize(path), "bytes")
