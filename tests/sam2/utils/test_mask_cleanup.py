"""Hole filling / speck removal on synthetic masks (CPU, OpenCV components)."""

from __future__ import annotations

import pytest
import torch

from sam2.utils.mask_cleanup import (
    clean_mask_logits,
    connected_components,
    fill_holes_in_mask_scores,
    remove_sprinkles_in_mask_scores,
)


def _logits(binary: torch.Tensor) -> torch.Tensor:
    return torch.where(binary, 5.0, -5.0)


def _square_with_holes() -> torch.Tensor:
    fg = torch.zeros(32, 32, dtype=torch.bool)
    fg[4:28, 4:28] = True
    fg[10:12, 10:12] = False  # 4-pixel hole
    fg[16:19, 16:19] = False  # 9-pixel hole
    fg[6, 20] = False  # 1-pixel hole
    return fg


def test_connected_components_are_8_connected():
    m = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    m[0, 0, 0, 0] = m[0, 0, 1, 1] = m[0, 0, 2, 2] = True  # a diagonal: one 8-component
    m[0, 0, 5, 5] = True
    labels, areas = connected_components(m)
    assert labels.dtype == torch.int32 and areas.dtype == torch.int32
    assert labels[0, 0, 0, 0] == labels[0, 0, 2, 2] != labels[0, 0, 5, 5]
    assert areas[0, 0, 1, 1] == 3 and areas[0, 0, 5, 5] == 1
    assert (labels[~m] == 0).all() and (areas[~m] == 0).all()


def test_fill_holes_only_small_background_components():
    fg = _square_with_holes()
    mask = _logits(fg)[None, None]
    out = fill_holes_in_mask_scores(mask, max_area=8)
    assert out[0, 0, 10, 10] == pytest.approx(0.1) and out[0, 0, 6, 20] == pytest.approx(0.1)
    assert (out[0, 0, 16:19, 16:19] == -5.0).all()  # 9 > 8 stays a hole
    assert (out[0, 0, 0, :] == -5.0).all()  # the outer background is large
    unchanged = ~(torch.zeros_like(fg).index_put_((torch.tensor([10, 10, 11, 11, 6]),
                                                   torch.tensor([10, 11, 10, 11, 20])), torch.tensor(True)))
    assert torch.equal(out[0, 0][unchanged], mask[0, 0][unchanged])


def test_zero_counts_as_background_and_batch_is_independent():
    a = _logits(_square_with_holes())
    a[20, 8] = 0.0  # a 1-pixel "hole" of exactly zero logit
    b = torch.full((32, 32), -3.0)  # all background: one large component, nothing filled
    out = fill_holes_in_mask_scores(torch.stack([a, b])[:, None], max_area=8)
    assert out[0, 0, 20, 8] == pytest.approx(0.1)
    assert torch.equal(out[1, 0], b)


def test_remove_sprinkles():
    fg = torch.zeros(20, 20, dtype=torch.bool)
    fg[2:12, 2:12] = True
    fg[15, 15] = fg[16, 16] = True  # 2-pixel diagonal speck
    out = remove_sprinkles_in_mask_scores(_logits(fg)[None, None], max_area=4)
    assert out[0, 0, 15, 15] == pytest.approx(-0.1) and out[0, 0, 16, 16] == pytest.approx(-0.1)
    assert (out[0, 0, 2:12, 2:12] == 5.0).all()


def test_clean_mask_logits_uses_the_input_mask_for_both_steps():
    fg = _square_with_holes()
    fg[30, 1] = True  # 1-pixel speck
    masks = torch.stack([_logits(fg), _logits(fg)])[None]  # 1 x 2 x H x W
    out = clean_mask_logits(masks, mask_threshold=0.0, max_hole_area=4, max_sprinkle_area=1)
    assert out.shape == masks.shape
    assert (out[0, :, 10:12, 10:12] == 10.0).all()
    assert (out[0, :, 30, 1] == -10.0).all()
    assert (out[0, :, 16:19, 16:19] == -5.0).all()
    assert torch.equal(clean_mask_logits(masks, 0.0, 0, 0), masks)


def test_errors():
    with pytest.raises(ValueError):
        fill_holes_in_mask_scores(torch.zeros(1, 1, 4, 4), max_area=0)
    with pytest.raises(ValueError):
        fill_holes_in_mask_scores(torch.zeros(4, 4), max_area=4)
