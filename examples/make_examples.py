"""Draw the app's example images (and video) with code, so that we own every pixel we ship.

Run ``python examples/make_examples.py`` to (re)create the files next to this script.
The drawings are deterministic: the same code gives the same files.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))


def _vertical_gradient(w: int, h: int, top: Tuple[int, int, int], bottom: Tuple[int, int, int]) -> Image.Image:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    rows = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return Image.fromarray(np.repeat(rows, w, axis=1).astype(np.uint8))


def _noise(img: Image.Image, amount: float, seed: int) -> Image.Image:
    """A little sensor-like noise so the scene is not perfectly flat."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0.0, amount, size=arr.shape[:2])[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _shadow(base: Image.Image, shape: Callable[[ImageDraw.ImageDraw], None], offset=(12, 14), blur=10) -> None:
    layer = Image.new("L", base.size, 0)
    shape(ImageDraw.Draw(layer))
    layer = layer.filter(ImageFilter.GaussianBlur(blur))
    layer = layer.transform(base.size, Image.Transform.AFFINE, (1, 0, -offset[0], 0, 1, -offset[1]))
    dark = Image.new("RGB", base.size, (0, 0, 0))
    base.paste(dark, (0, 0), layer.point(lambda v: int(v * 0.45)))


def shapes(w: int = 1024, h: int = 768) -> Image.Image:
    """Desk with a few solid shapes: clear edges, one object inside another."""
    img = _vertical_gradient(w, h, (236, 230, 218), (196, 186, 170))
    items: List[Tuple[str, Tuple[int, ...], Tuple[int, int, int]]] = [
        ("ellipse", (90, 120, 370, 400), (212, 62, 54)),
        ("rect", (470, 90, 780, 330), (46, 110, 190)),
        ("ellipse", (560, 150, 690, 270), (245, 205, 60)),
        ("poly", (160, 680, 330, 450, 500, 680), (58, 150, 84)),
        ("rect", (640, 430, 930, 690), (120, 72, 160)),
    ]
    for kind, xy, color in items:
        def draw_shape(d: ImageDraw.ImageDraw, kind=kind, xy=xy) -> None:
            if kind == "ellipse":
                d.ellipse(xy, fill=255)
            elif kind == "rect":
                d.rounded_rectangle(xy, radius=18, fill=255)
            else:
                d.polygon(list(zip(xy[::2], xy[1::2])), fill=255)

        if kind != "ellipse" or xy[0] != 560:
            _shadow(img, draw_shape)
        d = ImageDraw.Draw(img)
        if kind == "ellipse":
            d.ellipse(xy, fill=color)
        elif kind == "rect":
            d.rounded_rectangle(xy, radius=18, fill=color)
        else:
            d.polygon(list(zip(xy[::2], xy[1::2])), fill=color)
    return img


def fruit(w: int = 960, h: int = 720) -> Image.Image:
    """A bowl of round fruit on a wooden table: touching objects of similar shape."""
    img = _vertical_gradient(w, h, (250, 244, 232), (226, 214, 196))
    d = ImageDraw.Draw(img)
    table_top = int(h * 0.58)
    d.rectangle([0, table_top, w, h], fill=(150, 98, 58))
    for i in range(0, h - table_top, 14):  # wood grain
        y = table_top + i
        d.line([0, y, w, y + int(6 * math.sin(i))], fill=(136, 88, 50), width=2)
    bowl = (w * 0.18, h * 0.48, w * 0.82, h * 0.86)
    _shadow(img, lambda dd: dd.ellipse(bowl, fill=255), offset=(6, 22), blur=16)
    d = ImageDraw.Draw(img)
    d.chord(bowl, 0, 180, fill=(236, 236, 240), outline=(190, 190, 198), width=3)
    fruits = [
        ((w * 0.33, h * 0.56), 95, (214, 40, 40)),    # apple
        ((w * 0.50, h * 0.50), 110, (250, 150, 30)),  # orange
        ((w * 0.67, h * 0.57), 90, (120, 180, 50)),   # green apple
        ((w * 0.42, h * 0.43), 70, (120, 40, 120)),   # plum
        ((w * 0.59, h * 0.42), 65, (230, 200, 60)),   # lemon
    ]
    for (cx, cy), r, color in fruits:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        hl = tuple(min(255, c + 70) for c in color)
        d.ellipse([cx - r * 0.55, cy - r * 0.6, cx - r * 0.15, cy - r * 0.25], fill=hl)
    d.chord((bowl[0], bowl[1] + (bowl[3] - bowl[1]) * 0.25, bowl[2], bowl[3]), 0, 180,
            fill=(240, 240, 244), outline=(190, 190, 198), width=3)
    return _noise(img, 2.5, seed=2)


def street(w: int = 1200, h: int = 800) -> Image.Image:
    """A toy street: sky, sun, houses with windows, a tree and a car (objects with parts)."""
    img = _vertical_gradient(w, h, (120, 180, 236), (214, 232, 246))
    d = ImageDraw.Draw(img)
    d.ellipse([w - 220, 50, w - 100, 170], fill=(255, 220, 90))
    ground = int(h * 0.72)
    d.rectangle([0, ground, w, h], fill=(90, 90, 96))
    d.rectangle([0, ground - 30, w, ground], fill=(170, 170, 170))
    for x in range(40, w, 160):
        d.rectangle([x, ground + 95, x + 80, ground + 105], fill=(240, 240, 240))
    houses = [(60, 300, (200, 120, 90)), (330, 260, (230, 200, 140)), (620, 320, (140, 160, 200))]
    for x, top, color in houses:
        d.rectangle([x, top, x + 240, ground - 30], fill=color)
        d.polygon([(x - 20, top), (x + 120, top - 110), (x + 260, top)], fill=(120, 50, 40))
        for wx in (x + 30, x + 140):
            d.rectangle([wx, top + 40, wx + 60, top + 100], fill=(250, 245, 200), outline=(80, 60, 50), width=4)
        d.rectangle([x + 95, ground - 130, x + 145, ground - 30], fill=(90, 60, 40))
    d.rectangle([950, ground - 210, 980, ground - 30], fill=(110, 70, 40))
    d.ellipse([880, ground - 380, 1050, ground - 180], fill=(50, 130, 60))
    car_y = ground + 20
    d.rounded_rectangle([300, car_y, 620, car_y + 90], radius=22, fill=(200, 30, 40))
    d.polygon([(360, car_y), (410, car_y - 60), (530, car_y - 60), (580, car_y)], fill=(200, 30, 40))
    d.polygon([(380, car_y - 4), (418, car_y - 50), (468, car_y - 50), (468, car_y - 4)], fill=(180, 220, 240))
    d.polygon([(478, car_y - 4), (478, car_y - 50), (524, car_y - 50), (560, car_y - 4)], fill=(180, 220, 240))
    for cx in (380, 540):
        d.ellipse([cx - 38, car_y + 52, cx + 38, car_y + 128], fill=(30, 30, 30))
        d.ellipse([cx - 16, car_y + 74, cx + 16, car_y + 106], fill=(170, 170, 170))
    return _noise(img, 2.0, seed=3)


def bouncing_frames(n: int = 16, w: int = 480, h: int = 270) -> List[np.ndarray]:
    """Frames of two balls moving over a gradient, one passing in front of the other."""
    frames = []
    bg = _vertical_gradient(w, h, (230, 236, 244), (180, 190, 204))
    for t in range(n):
        img = bg.copy()
        d = ImageDraw.Draw(img)
        d.rectangle([0, int(h * 0.8), w, h], fill=(120, 130, 110))
        a = t / max(1, n - 1)
        x1 = 60 + a * (w - 180)
        y1 = h * 0.8 - 50 - abs(math.sin(a * math.pi * 3)) * 160
        x2 = w - 110 - a * (w - 240)
        y2 = h * 0.45 + 40 * math.sin(a * math.pi * 2)
        d.ellipse([x2 - 45, y2 - 45, x2 + 45, y2 + 45], fill=(40, 110, 200))
        d.ellipse([x1 - 50, y1 - 50, x1 + 50, y1 + 50], fill=(220, 60, 50))
        frames.append(np.asarray(_noise(img, 2.0, seed=100 + t)))
    return frames


IMAGES: Dict[str, Callable[[], Image.Image]] = {
    "shapes.png": shapes,
    "fruit.jpg": fruit,
    "street.jpg": street,
}
VIDEOS: Dict[str, Callable[[], List[np.ndarray]]] = {
    "bouncing_balls.mp4": bouncing_frames,
}


def main(out_dir: str = HERE, videos: bool = True) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, make in IMAGES.items():
        path = os.path.join(out_dir, name)
        img = make()
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path, optimize=True)
        written.append(path)
    if videos:
        from sam2.media.mp4 import write_mp4

        for name, make_frames in VIDEOS.items():
            path = os.path.join(out_dir, name)
            write_mp4(path, make_frames(), fps=12)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in main():
        print(p, os.path.getsize(p), "bytes")
