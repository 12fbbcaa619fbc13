"""The documented image conversion rules of sam2.media.images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sam2.media.images import ImageLoadError, load_image, to_rgb_uint8


def test_rgb_passes_through_and_gray_replicates():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(to_rgb_uint8(rgb), rgb)
    gray = np.array([[0, 128], [255, 7]], np.uint8)
    out = to_rgb_uint8(gray)
    assert out.shape == (2, 2, 3) and (out[..., 0] == gray).all() and (out[..., 2] == gray).all()


def test_alpha_is_composited_over_white():
    rgba = np.array([[[0, 0, 0, 0], [10, 20, 30, 255], [0, 0, 0, 128]]], np.uint8)
    out = to_rgb_uint8(rgba)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [10, 20, 30])
    assert 120 <= out[0, 2, 0] <= 130
    pil = to_rgb_uint8(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_array_equal(pil, out)


def test_sixteen_bit_scales_exactly():
    v = np.array([[0, 257, 65535, 32896]], np.uint16)
    np.testing.assert_array_equal(to_rgb_uint8(v)[0, :, 0], [0, 1, 255, 128])
    pil16 = Image.fromarray(np.array([[0, 65535]], np.uint16))
    np.testing.assert_array_equal(to_rgb_uint8(pil16)[0, :, 0], [0, 255])


def test_float_and_cmyk():
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0.0, 1.0, 0.5]]))[0, :, 0], [0, 255, 128])
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    out = to_rgb_uint8(cmyk)
    assert out.shape == (4, 4, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 50
    with pytest.raises(ImageLoadError, match="NaN"):
        to_rgb_uint8(np.array([[np.nan]]))


def test_load_image_errors_are_clear(tmp_path):
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageLoadError, match="not a readable image"):
        load_image(b"this is not a png")
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(str(p))
    with pytest.raises(ImageLoadError, match="no such"):
        load_image(str(tmp_path / "missing.png"))
    buf = io.BytesIO()
    Image.new("RGB", (5, 3), (1, 2, 3)).save(buf, format="PNG")
    assert load_image(buf.getvalue()).shape == (3, 5, 3)
