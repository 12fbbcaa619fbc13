"""Model-free quality signals of masks given as logits: the stability score, and the mean logit
magnitude inside the mask.

The third signal, the predicted IoU, comes from the model with each mask. The stability
score follows the reference's arithmetic (the generator filters on it); ``count_pixels`` is
the fast CPU pixel count behind it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from sam2.utils.rle import ArrayOrTensor

__all__ = ["MaskConfidence", "calculate_stability_score", "count_pixels", "mask_confidence"]


def calculate_stability_score(masks: torch.Tensor, mask_threshold: float, threshold_offset: float) -> torch.Tensor:
    """IoU between the masks obtained by cutting the logits at ``threshold +/- offset``.

    The high cut is always inside the low cut, so the IoU is a ratio of pixel counts. A
    stable mask barely changes when the cut moves, so its score is near 1. If even the low
    cut is empty the ratio is 0/0 = NaN, as in the reference (and NaN passes no filter).
    """
    inner = count_pixels(masks > (mask_threshold + threshold_offset))
    outer = count_pixels(masks > (mask_threshold - threshold_offset))
    return inner / outer


def count_pixels(masks: torch.Tensor) -> torch.Tensor:
    """Number of True pixels of each ``... x H x W`` boolean mask, as int64 ``...``.

    On the CPU numpy's count_nonzero is used: it is ~60x faster than a torch sum over a
    boolean tensor (2 ms instead of 140 ms for 29 masks of 1800 x 1200).
    """
    if masks.device.type != "cpu" or masks.numel() == 0:
        return masks.sum(dim=(-2, -1))
    flat = masks.reshape(-1, masks.shape[-2] * masks.shape[-1]).numpy()
    counts = [np.count_nonzero(row) for row in flat]
    return torch.tensor(counts, dtype=torch.int64).view(masks.shape[:-2])


class MaskConfidence(NamedTuple):
    stability_score: ArrayOrTensor
    mean_abs_logit: ArrayOrTensor


def mask_confidence(logits: ArrayOrTensor, mask_threshold: float = 0.0, offset: float = 1.0) -> MaskConfidence:
    """Model-free confidence signals of masks given as logits ``... x H x W``.

    Returns ``(stability_score, mean_abs_logit_in_mask)`` with shape ``...``:

    * stability score: see :func:`calculate_stability_score`; 0 here for a mask whose low
      cut is empty (no support, so no confidence) instead of NaN;
    * the mean ``|logit|`` over the mask's pixels (logit > ``mask_threshold``): how far from
      the decision boundary the mask sits on average; 0 for an empty mask.

    The third signal, the predicted IoU, comes from the model with the mask. Numpy input
    gives numpy output, tensors give float32 tensors.
    """
    as_numpy = not isinstance(logits, torch.Tensor)
    x = torch.as_tensor(np.asarray(logits)) if as_numpy else logits
    if x.dim() < 2:
        raise ValueError(f"logits must be shaped ... x H x W, got {tuple(x.shape)}")
    x = x.float()
    stability = calculate_stability_score(x, mask_threshold, offset)
    stability = torch.nan_to_num(stability, nan=0.0)
    inside = x > mask_threshold
    n_inside = inside.sum(dim=(-2, -1))
    total = torch.where(inside, x.abs(), torch.zeros((), dtype=x.dtype, device=x.device)).sum(dim=(-2, -1))
    mean_abs = torch.where(n_inside > 0, total / n_inside.clamp(min=1), torch.zeros_like(total))
    if as_numpy:
        return MaskConfidence(stability.numpy(), mean_abs.numpy())
    return MaskConfidence(stability, mean_abs)
