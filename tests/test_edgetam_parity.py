"""EdgeTAM parity with its reference (facebookresearch/EdgeTAM) on seeded random weights.

The golden data (``tests/data/parity/edgetam``, from ``../shared/parity/edgetam``) is the
reference's output for ``configs/edgetam.yaml`` with the fill rule's seed 3: an image case
(features and five prompt calls on the truck photo) and a three-object video case.
Tolerances are the SAM 2 ones (see ``test_image_parity`` / ``test_video_parity``); the
RepViT activations are ~1e6 in magnitude with random weights, so comparisons are relative.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import PARITY_DIR, mask_mismatch, rel_l2

EDGETAM_DIR = PARITY_DIR / "edgetam"
FEAT_TOL = 1e-4
SCORE_TOL = 1e-4
MASK_TOL = 1e-4
LOGITS_TOL = 2e-3  # video logits are stored as float16


def _golden(name: str):
    return np.load(EDGETAM_DIR / "golden" / f"{name}.npz")


@pytest.fixture(scope="module")
def edgetam_group() -> dict:
    with open(EDGETAM_DIR / "cases.json") as f:
        return json.load(f)["groups"][0]


@pytest.fixture(scope="module")
def edgetam_checkpoint(checkpoint_factory, edgetam_group) -> str:
    return checkpoint_factory(edgetam_group["model"], edgetam_group["seed"])


@pytest.fixture(scope="module")
def truck_predictor(edgetam_checkpoint, media_dir):
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    # the spelling of EdgeTAM's own README
    predictor = SAM2ImagePredictor(build_sam2("configs/edgetam.yaml", edgetam_checkpoint, device="cpu"))
    predictor.set_image(np.array(Image.open(media_dir / "truck.jpg").convert("RGB")))
    return predictor


def test_edgetam_truck_features_match_reference(truck_predictor):
    g = _golden("edgetam_truck")
    embed = truck_predictor._features.image_embed[0].numpy()
    assert rel_l2(embed[:16, :8, :8], g["image_embed_slice"]) < FEAT_TOL
    assert rel_l2(embed.mean(axis=(1, 2)), g["image_embed_chan_mean"]) < FEAT_TOL
    for i in range(2):
        feat = truck_predictor._features.high_res_feats[i][0].numpy()
        assert rel_l2(feat[:8, :16, :16], g[f"high_res_{i}_slice"]) < FEAT_TOL
        assert rel_l2(feat.mean(axis=(1, 2)), g[f"high_res_{i}_chan_mean"]) < FEAT_TOL


def test_edgetam_truck_prompts_match_reference(truck_predictor, edgetam_group):
    g = _golden("edgetam_truck")
    case = next(c for c in edgetam_group["image_cases"] if c["name"] == "edgetam_truck")
    results = []
    for i, call in enumerate(case["calls"]):
        mask_input = None
        if "mask_input_from" in call:
            _, prev_scores, prev_low = results[call["mask_input_from"]]
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
        np.testing.assert_allclose(scores, g[f"call{i}_scores"], atol=SCORE_TOL, err_msg=f"call {i}")
        assert rel_l2(low, g[f"call{i}_low_res_logits"]) < FEAT_TOL, f"call {i}"
        assert mask_mismatch(masks, g[f"call{i}_masks_packed"], tuple(g[f"call{i}_mask_shape"])) < MASK_TOL
        if call.get("return_logits"):
            logits, _, _ = truck_predictor.predict(**kwargs, return_logits=True)
            assert rel_l2(logits[..., ::4, ::4], g[f"call{i}_logits_sub4"]) < FEAT_TOL
