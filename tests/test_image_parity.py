"""Parity of the image path with the reference on seeded random weights (golden data)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import load_golden, mask_mismatch, rel_l2
from sam2.sam2_image_predictor import SAM2ImagePredictor

FEAT_TOL = 1e-4
SCORE_TOL = 1e-4
MASK_TOL = 1e-4  # fraction of pixels


def _image(media_dir, name):
    return np.array(Image.open(media_dir / name).convert("RGB"))


@pytest.fixture(scope="module")
def truck_predictor(tiny_model, media_dir):
    predictor = SAM2ImagePredictor(tiny_model)
    predictor.set_image(_image(media_dir, "truck.jpg"))
    return predictor


def test_truck_features_match_reference(truck_predictor):
    g = load_golden("truck_prompts")
    embed = truck_predictor._features.image_embed[0].numpy()
    assert rel_l2(embed[:16, :8, :8], g["image_embed_slice"]) < FEAT_TOL
    assert rel_l2(embed.mean(axis=(1, 2)), g["image_embed_chan_mean"]) < FEAT_TOL
    assert rel_l2(embed.std(axis=(1, 2)), g["image_embed_chan_std"]) < 1e-3 or rel_l2(
        embed.std(axis=(1, 2), ddof=1), g["image_embed_chan_std"]) < FEAT_TOL
    for i in range(2):
        feat = truck_predictor._features.high_res_feats[i][0].numpy()
        assert rel_l2(feat[:8, :16, :16], g[f"high_res_{i}_slice"]) < FEAT_TOL
        assert rel_l2(feat.mean(axis=(1, 2)), g[f"high_res_{i}_chan_mean"]) < FEAT_TOL


def test_truck_prompts_match_reference(truck_predictor, parity_cases):
    g = load_golden("truck_prompts")
    case = next(c for c in parity_cases["groups"][0]["image_cases"] if c["name"] == "truck_prompts")
    results = []
    for i, call in enumerate(case["calls"]):
        mask_input = None
        if "mask_input_from" in call:
            prev_masks, prev_scores, prev_low = results[call["mask_input_from"]]
            mask_input = prev_low[np.argmax(prev_scores)][None]
        kwargs = dict(
            point_coords=np.array(call["point_coords"]) if "point_coords" in call else None,
            point_labels=np.array(call["point_labels"]) if "point_labels" in call else None,
            box=np.array(call["box"]) if "box" in call else None,
            mask_input=mask_input,
            multimask_output=call["multimask_output"],
        )
        masks, scores, low = truck_predictor.predict(**kwargs)
        results.append((masks, scores, low))
        assert masks.dtype == np.bool_ and scores.dtype == np.float32 and low.dtype == np.float32
        np.testing.assert_allclose(scores, g[f"call{i}_scores"], atol=SCORE_TOL, err_msg=f"call {i}")
        assert rel_l2(low, g[f"call{i}_low_res_logits"]) < FEAT_TOL, f"call {i}"
        assert mask_mismatch(masks, g[f"call{i}_masks_packed"], tuple(g[f"call{i}_mask_shape"])) < MASK_TOL
        if call.get("return_logits"):
            logits, _, _ = truck_predictor.predict(**kwargs, return_logits=True)
            assert logits.dtype == np.float32
            assert rel_l2(logits[..., ::4, ::4], g[f"call{i}_logits_sub4"]) < FEAT_TOL


def test_batch_truck_groceries_match_reference(tiny_model, media_dir, parity_cases):
    g = load_golden("batch_truck_groceries")
    case = next(c for c in parity_cases["groups"][0]["image_cases"] if c["name"] == "batch_truck_groceries")
    predictor = SAM2ImagePredictor(tiny_model)
    predictor.set_image_batch([_image(media_dir, n) for n in case["images"]])
    call = case["call"]
    masks, scores, lows = predictor.predict_batch(
        [np.array(p) for p in call["point_coords"]], [np.array(l) for l in call["point_labels"]],
        multimask_output=call["multimask_output"],
    )
    for i in range(len(case["images"])):
        np.testing.assert_allclose(scores[i], g[f"img{i}_scores"], atol=SCORE_TOL)
        assert rel_l2(lows[i], g[f"img{i}_low_res_logits"]) < FEAT_TOL
        assert mask_mismatch(masks[i], g[f"img{i}_masks_packed"], tuple(g[f"img{i}_mask_shape"])) < MASK_TOL
