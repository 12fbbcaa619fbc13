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
    with pytest.raises(ImageLoadError, match="Could not read the uploaded data as an image: it is a text file"):
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


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


@pytest.mark.parametrize("name, data, kind", [
    ("photo.svg", SVG, "an SVG file"),
    ("photo.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
    ("notes.png", "just some notes, renamed — not a picture\n".encode(), "a text file"),
    ("clip.jpg", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "an MP4 / MOV video"),
    ("page.webp", b"<!DOCTYPE html><html><body></body></html>", "an HTML page"),
    ("archive.png", b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive"),
])
def test_files_that_are_not_pictures_are_refused_by_name(tmp_path, name, data, kind):
    p = tmp_path / name
    p.write_bytes(data)
    for source in (str(p), data):
        with pytest.raises(ImageLoadError) as err:
            load_image(source, name=name)
        message = str(err.value)
        assert message.startswith(f"Could not read {name} as an image: it is {kind}"), message
        assert "PNG, JPEG" in message and str(tmp_path) not in message


def test_damaged_picture_is_named_without_its_path(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageLoadError) as err:
        load_image(str(p))
    assert "cut.png" in str(err.value) and "a PNG image" in str(err.value) and str(tmp_path) not in str(err.value)


def test_sniff_recognises_the_formats_the_loaders_read():
    from sam2.media.file_kind import sniff

    for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, format=fmt)
        assert sniff(buf.getvalue()[:4096]).category == "image", fmt
    assert sniff(b"\x1a\x45\xdf\xa3\x01\x00").category == "video"
    assert sniff(bytes(range(256)) * 4).category == "unknown"
