"""Parity of the image path with the reference on seeded random weights (golden data)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.parity import check_image_features, check_prompt_calls, load_golden, mask_mismatch, rel_l2
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
    check_image_features(truck_predictor, g, FEAT_TOL)
    embed = truck_predictor._features.image_embed[0].numpy()
    assert rel_l2(embed.std(axis=(1, 2)), g["image_embed_chan_std"]) < 1e-3 or rel_l2(
        embed.std(axis=(1, 2), ddof=1), g["image_embed_chan_std"]) < FEAT_TOL


def test_truck_prompts_match_reference(truck_predictor, parity_cases):
    case = next(c for c in parity_cases["groups"][0]["image_cases"] if c["name"] == "truck_prompts")
    check_prompt_calls(truck_predictor, case["calls"], load_golden("truck_prompts"), SCORE_TOL, FEAT_TOL, MASK_TOL)


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
