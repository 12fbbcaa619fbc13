"""Gradio's cache writes (patched by ``ui.tabkit.gradio_cache``): the same picture written again
leaves the file being sent untouched; a new one appears whole."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ui.tabkit.gradio_cache import atomic_cache_writes


def test_an_identical_picture_does_not_rewrite_the_file_in_the_cache(tmp_path):
    from gradio import processing_utils

    atomic_cache_writes()
    atomic_cache_writes()  # idempotent
    img = Image.fromarray(np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3))
    path = processing_utils.save_img_array_to_cache(np.asarray(img), str(tmp_path))
    with open(path, "rb") as reader:  # a download in progress
        first = reader.read(10)
        stat = os.stat(path)
        again = processing_utils.save_pil_to_cache(img, str(tmp_path), format="webp")
        assert again == path and os.stat(path).st_ino == stat.st_ino and os.stat(path).st_mtime_ns == stat.st_mtime_ns
        assert first + reader.read() == open(path, "rb").read()
    other = processing_utils.save_pil_to_cache(Image.fromarray(np.zeros((4, 4, 3), np.uint8)), str(tmp_path))
    assert other != path and os.path.getsize(other) > 0
    assert not [n for n in os.listdir(os.path.dirname(other)) if n.startswith(".part-")]
