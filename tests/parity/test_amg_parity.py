"""Parity of SAM2AutomaticMaskGenerator with the reference on seeded random weights.

Golden case ``amg_groceries`` (tests/data/parity): sam2.1_hiera_t with the seed-0 fill rule,
groceries.jpg, the parameters of cases.json. Records are compared after sorting by
(-area, bbox), as the golden data was stored. Random weights give few, blob-like masks, so
this checks the real model wiring (predictor, coordinates, scores); the machinery itself is
checked against the reference on synthetic masks in test_amg_generator.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.parity import load_golden, mask_mismatch
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

SCORE_TOL = 1e-4  # predicted IoU, absolute
STABILITY_TOL = 1e-4  # a ratio of pixel counts: a flipped pixel or two moves it by ~1e-5
MASK_TOL = 1e-4  # fraction of pixels
AREA_TOL = 1e-4  # relative
BOX_TOL = 1.0  # pixels


def amg_case(parity_cases, name):
    for group in parity_cases["groups"]:
        for case in group.get("amg_cases", []):
            if case["name"] == name:
                return group, case
    raise KeyError(name)


@pytest.mark.slow
def test_amg_groceries_matches_reference(tiny_model, media_dir, parity_cases):
    group, case = amg_case(parity_cases, "amg_groceries")
    assert group["model"] == "sam2.1_hiera_t" and group["seed"] == 0
    image = np.array(Image.open(media_dir / case["image"]).convert("RGB"))
    records = SAM2AutomaticMaskGenerator(tiny_model, **case["params"]).generate(image)
    records.sort(key=lambda r: (-r["area"], tuple(r["bbox"])))

    g = load_golden("amg_groceries")
    assert len(records) == int(g["count"])
    areas = np.array([r["area"] for r in records])
    np.testing.assert_allclose(areas, g["areas"], rtol=AREA_TOL, atol=2)
    np.testing.assert_allclose(np.array([r["bbox"] for r in records]).reshape(-1, 4), g["bboxes"], atol=BOX_TOL)
    np.testing.assert_allclose([r["predicted_iou"] for r in records], g["predicted_iou"], atol=SCORE_TOL)
    np.testing.assert_allclose([r["stability_score"] for r in records], g["stability_score"], atol=STABILITY_TOL)
    np.testing.assert_allclose(np.array([r["point_coords"][0] for r in records]).reshape(-1, 2), g["point_coords"],
                               atol=1e-3)
    masks = np.stack([r["segmentation"] for r in records]) if records else np.zeros(g["mask_shape"], bool)
    assert mask_mismatch(masks, g["masks_packed"], tuple(g["mask_shape"])) < MASK_TOL
    for r in records:
        assert r["crop_box"] == [0.0, 0.0, float(image.shape[1]), float(image.shape[0])]
