"""Remove small holes and small specks ("sprinkles") from mask logits, on the CPU.

The reference does this with a compiled CUDA connected-components kernel and silently skips
it when the kernel is missing, so its CPU results differ from its GPU results. Here the same
8-connected components come from OpenCV, which gives the GPU behaviour everywhere with no
compiled extension.

Two flavours of the same operation are used:

* video tracking (``fill_hole_area``): background components (logits <= 0) of area
  <= ``max_area`` get the logit 0.1 (``fill_holes_in_mask_scores``); the symmetric
  ``remove_sprinkles_in_mask_scores`` gives small foreground components -0.1;
* the image predictor (``max_hole_area`` / ``max_sprinkle_area``): components of the
  *input* mask thresholded at ``mask_threshold`` are found for both, and holes get
  ``threshold + 10``, sprinkles ``threshold - 10`` (``clean_mask_logits``).
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np
import torch

__all__ = [
    "connected_components",
    "fill_holes_in_mask_scores",
    "remove_sprinkles_in_mask_scores",
    "clean_mask_logits",
    "remove_small_regions",
]


def _components_2d(binary: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """8-connected labels (0 = outside the mask) and, per pixel, its component's area."""
    num, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8, ltype=cv2.CV_32S)
    areas_by_label = stats[:, cv2.CC_STAT_AREA].astype(np.int32)
    areas_by_label[0] = 0  # OpenCV's label 0 is the complement of the mask
    return labels, areas_by_label[labels]


def connected_components(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Connected components (8-connectivity) of binary masks shaped N x 1 x H x W.

    Returns ``labels`` (component ids from 1, 0 off the mask) and ``areas`` (the pixel count
    of each pixel's component, 0 off the mask), both int32 N x 1 x H x W on ``mask``'s device,
    like the reference's ``get_connected_components``.
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"connected_components expects an N x 1 x H x W mask, got {tuple(mask.shape)}")
    binary = (mask != 0).to(device="cpu", dtype=torch.uint8).numpy()
    labels = np.zeros(binary.shape, dtype=np.int32)
    areas = np.zeros(binary.shape, dtype=np.int32)
    for i in range(binary.shape[0]):
        if binary[i, 0].any():
            labels[i, 0], areas[i, 0] = _components_2d(np.ascontiguousarray(binary[i, 0]))
    return torch.from_numpy(labels).to(mask.device), torch.from_numpy(areas).to(mask.device)


def _small_components(binary: torch.Tensor, max_area: float) -> torch.Tensor:
    """Pixels of components of ``binary`` (any N x C x H x W layout) with area <= max_area."""
    flat = binary.reshape(-1, 1, *binary.shape[-2:])
    labels, areas = connected_components(flat)
    return ((labels > 0) & (areas <= max_area)).reshape(binary.shape)


def _check_4d(mask: torch.Tensor, what: str) -> None:
    if mask.dim() != 4:
        raise ValueError(f"{what} expects N x C x H x W mask logits, got shape {tuple(mask.shape)}")


def fill_holes_in_mask_scores(mask: torch.Tensor, max_area: float, fill_value: float = 0.1) -> torch.Tensor:
    """Give background components (``mask <= 0``) of area <= ``max_area`` the logit ``fill_value``.

    This is the video predictor's ``fill_hole_area`` post-processing; ``mask`` is N x 1 x H x W.
    """
    if max_area <= 0:
        raise ValueError(f"max_area must be positive, got {max_area}")
    _check_4d(mask, "fill_holes_in_mask_scores")
    is_hole = _small_components(mask <= 0, max_area)
    return torch.where(is_hole, torch.as_tensor(fill_value, dtype=mask.dtype, device=mask.device), mask)


def remove_sprinkles_in_mask_scores(
    mask: torch.Tensor, max_area: float, fill_value: float = -0.1
) -> torch.Tensor:
    """Give foreground components (``mask > 0``) of area <= ``max_area`` the logit ``fill_value``."""
    if max_area <= 0:
        raise ValueError(f"max_area must be positive, got {max_area}")
    _check_4d(mask, "remove_sprinkles_in_mask_scores")
    is_speck = _small_components(mask > 0, max_area)
    return torch.where(is_speck, torch.as_tensor(fill_value, dtype=mask.dtype, device=mask.device), mask)


def clean_mask_logits(
    masks: torch.Tensor, mask_threshold: float = 0.0, max_hole_area: float = 0, max_sprinkle_area: float = 0
) -> torch.Tensor:
    """The image predictor's post-processing of B x C x H x W low-resolution logits.

    Both kinds of component are found on the input mask (so filling a hole cannot turn a
    speck into a larger component): holes of area <= ``max_hole_area`` become
    ``threshold + 10``, sprinkles of area <= ``max_sprinkle_area`` become ``threshold - 10``.
    A zero area turns that step off.
    """
    _check_4d(masks, "clean_mask_logits")
    out = masks
    if max_hole_area > 0:
        is_hole = _small_components(masks <= mask_threshold, max_hole_area)
        out = torch.where(is_hole, torch.as_tensor(mask_threshold + 10.0, dtype=out.dtype, device=out.device), out)
    if max_sprinkle_area > 0:
        is_speck = _small_components(masks > mask_threshold, max_sprinkle_area)
        out = torch.where(is_speck, torch.as_tensor(mask_threshold - 10.0, dtype=out.dtype, device=out.device), out)
    return out


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    """Fill small holes (``mode="holes"``) or drop small islands (``mode="islands"``).

    Components are 8-connected (OpenCV, on the CPU); "small" means fewer than
    ``area_thresh`` pixels. For holes, every background component counts, including ones
    touching the image border. For islands, if every component is small the largest is
    kept, so a mask is never emptied. Returns ``(mask, changed)``.
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    mask = np.asarray(mask).astype(bool, copy=False)
    fill_holes = mode == "holes"
    working = (mask != fill_holes).astype(np.uint8)  # the background when filling holes
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(working, connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]  # label 0 is whatever is outside ``working``
    small = np.nonzero(sizes < area_thresh)[0] + 1
    if small.size == 0:
        return mask, False
    if fill_holes:
        selected = np.zeros(n_labels, dtype=bool)
        selected[0] = True  # the mask itself
        selected[small] = True  # plus its small holes
    else:
        selected = np.ones(n_labels, dtype=bool)
        selected[0] = False
        selected[small] = False
        if not selected.any():
            selected[int(np.argmax(sizes)) + 1] = True
    return selected[labels], True
