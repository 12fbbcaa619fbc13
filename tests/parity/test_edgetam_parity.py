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

from tests.support.parity import PARITY_DIR, check_image_features, check_prompt_calls

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
    check_image_features(truck_predictor, _golden("edgetam_truck"), FEAT_TOL)


def test_edgetam_truck_prompts_match_reference(truck_predictor, edgetam_group):
    case = next(c for c in edgetam_group["image_cases"] if c["name"] == "edgetam_truck")
    check_prompt_calls(truck_predictor, case["calls"], _golden("edgetam_truck"), SCORE_TOL, FEAT_TOL, MASK_TOL)
