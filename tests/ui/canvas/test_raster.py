"""ui.canvas.raster: the display copy of a picture, its click mapping, and the palette."""

import numpy as np
import pytest

from ui.canvas import raster


def _image(h=60, w=80):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_display_downscales_only_large_images_and_maps_clicks_back():
    small = raster.make_display(_image(60, 80))
    assert small.scale == 1.0 and small.pixels.shape == (60, 80, 3)
    assert small.to_original(10, 20) == (10.0, 20.0)
    big = raster.make_display(np.zeros((1000, 3000, 3), np.uint8), max_side=600)
    assert big.pixels.shape == (200, 600, 3)
    assert big.scale == pytest.approx(0.2)
    x, y = big.to_original(300, 100)
    assert abs(x - 1502) < 3 and abs(y - 502) < 3
    # Round trip within a display pixel, and clamped to the image.
    dx, dy = big.to_display(x, y)
    assert abs(dx - 300) < 1e-6 and abs(dy - 100) < 1e-6
    assert big.to_original(10_000, -50) == (2999.0, 0.0)


def test_make_display_rejects_non_rgb_uint8():
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        raster.make_display(np.zeros((10, 10), np.uint8))


def test_palette_colours_are_distinct():
    assert len(set(raster.PALETTE)) == len(raster.PALETTE)
    assert raster.object_color(0) == raster.object_color(len(raster.PALETTE))
    assert raster.color_hex((255, 0, 16)) == "#ff0010"
