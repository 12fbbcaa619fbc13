"""The point grids and image crops of the automatic mask generator, and moving results between
crop and image coordinates.

Layer 0 is the whole image; layer i >= 1 cuts it into 2^i x 2^i overlapping crops, each
prompted with its own point grid. Numerics follow the reference, so crops and grids are
the reference's to the pixel.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any, Iterator, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "batch_iterator", "build_all_layer_point_grids", "build_point_grid", "generate_crop_boxes",
    "is_box_near_crop_edge", "uncrop_boxes_xyxy", "uncrop_masks", "uncrop_points",
]


def build_point_grid(n_per_side: int) -> np.ndarray:
    """``n*n x 2`` (x, y) points at the centres of an n x n tiling of [0, 1]^2, row by row."""
    if n_per_side < 1:
        raise ValueError(f"points per side must be >= 1, got {n_per_side}")
    half_step = 1 / (2 * n_per_side)
    ticks = np.linspace(half_step, 1 - half_step, n_per_side)
    xs, ys = np.meshgrid(ticks, ticks)
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int) -> List[np.ndarray]:
    """One grid per crop layer; layer i has ``n_per_side / scale_per_layer**i`` points a side."""
    return [build_point_grid(int(n_per_side / (scale_per_layer**i))) for i in range(n_layers + 1)]


def generate_crop_boxes(
    im_size: Tuple[int, ...], n_layers: int, overlap_ratio: float
) -> Tuple[List[List[int]], List[int]]:
    """Crop boxes (XYXY, ints) of all layers, and the layer of each.

    Layer 0 is the whole image; layer i >= 1 splits it into a 2^i x 2^i grid of
    overlapping crops. Crops are listed column by column (x outer, y inner).
    """
    im_h, im_w = im_size
    boxes: List[List[int]] = [[0, 0, im_w, im_h]]
    layers: List[int] = [0]
    short_side = min(im_h, im_w)

    def side_length(full: int, n: int, overlap: int) -> int:
        return int(math.ceil((overlap * (n - 1) + full) / n))

    for layer in range(1, n_layers + 1):
        n = 2**layer
        overlap = int(overlap_ratio * short_side * (2 / n))
        crop_w = side_length(im_w, n, overlap)
        crop_h = side_length(im_h, n, overlap)
        xs = [int((crop_w - overlap) * i) for i in range(n)]
        ys = [int((crop_h - overlap) * i) for i in range(n)]
        for x0, y0 in product(xs, ys):
            boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
            layers.append(layer)
    return boxes, layers


def uncrop_boxes_xyxy(boxes: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """Boxes from crop coordinates to image coordinates (``... x 4``)."""
    x0, y0 = int(crop_box[0]), int(crop_box[1])
    return boxes + torch.tensor([x0, y0, x0, y0], device=boxes.device)


def uncrop_points(points: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """Points from crop coordinates to image coordinates (``... x 2``)."""
    x0, y0 = int(crop_box[0]), int(crop_box[1])
    return points + torch.tensor([x0, y0], device=points.device)


def uncrop_masks(masks: torch.Tensor, crop_box: Sequence[int], orig_h: int, orig_w: int) -> torch.Tensor:
    """Crop masks (``... x h x w``) pasted into zero masks of the full image size."""
    x0, y0, x1, y1 = (int(v) for v in crop_box)
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return masks
    return F.pad(masks, (x0, orig_w - x1, y0, orig_h - y1), value=0)


def batch_iterator(batch_size: int, *args) -> Iterator[List[Any]]:
    """Yield aligned slices of ``batch_size`` items of each argument (the last may be shorter)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not args or any(len(a) != len(args[0]) for a in args):
        raise ValueError("batch_iterator needs one or more sequences of the same length")
    for start in range(0, len(args[0]), batch_size):
        yield [a[start : start + batch_size] for a in args]


def is_box_near_crop_edge(
    boxes: torch.Tensor, crop_box: Sequence[int], orig_box: Sequence[int], atol: float = 20.0
) -> torch.Tensor:
    """True for boxes (in crop coordinates) within ``atol`` pixels of an edge of the crop
    that is not also an edge of the image: such masks are probably cut off by the crop."""
    crop = torch.as_tensor(crop_box, dtype=torch.float, device=boxes.device)
    image = torch.as_tensor(orig_box, dtype=torch.float, device=boxes.device)
    boxes = uncrop_boxes_xyxy(boxes, crop_box).float()
    near_crop = torch.isclose(boxes, crop[None, :], atol=atol, rtol=0)
    near_image = torch.isclose(boxes, image[None, :], atol=atol, rtol=0)
    return torch.any(near_crop & ~near_image, dim=1)
