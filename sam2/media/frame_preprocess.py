"""A frame's model input: the reference's preprocessing rule, computed fast and bit-identically."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence, Tuple

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess_frame(
    frame: np.ndarray,
    image_size: int = 1024,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """H x W x 3 uint8 RGB -> 3 x S x S float32 model input (the reference's JPEG-folder rule).

    PIL bicubic resize to S x S on the uint8 image, then ``/ 255`` in float64 rounded to
    float32, then ``(x - mean) / std`` in float32. After the resize every output value is a
    function of one uint8 and its channel, so the arithmetic is done once per (channel,
    level) in ``_level_table`` and the frame is a table lookup: bit-identical to the
    element-wise form and a third of its time (a 1024 px frame: 11 -> 4 ms after the resize).
    """
    resized = np.asarray(Image.fromarray(frame).resize((image_size, image_size), Image.BICUBIC))
    table = _level_table(tuple(float(m) for m in mean), tuple(float(s) for s in std))
    out = np.empty((3, image_size, image_size), dtype=np.float32)
    for c in range(3):
        np.take(table[c], resized[..., c], out=out[c])
    return torch.from_numpy(out)


@lru_cache(maxsize=8)
def _level_table(mean: Tuple[float, ...], std: Tuple[float, ...]) -> np.ndarray:
    """3 x 256 float32: the model input value of each uint8 level in each channel, computed
    with the same operations (and roundings) as the reference applies per pixel."""
    levels = torch.from_numpy(np.arange(256) / 255.0).float()[None, :]
    mean_t = torch.tensor(mean, dtype=torch.float32)[:, None]
    std_t = torch.tensor(std, dtype=torch.float32)[:, None]
    return ((levels - mean_t) / std_t).numpy()


__all__ = ["preprocess_frame", "IMAGENET_MEAN", "IMAGENET_STD"]
