"""Fast (bfloat16 encoder) mode stays close to exact mode on the parity images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sam2.build_sam import build_sam2
from sam2.precision import resolve_compute_dtype
from sam2.sam2_image_predictor import SAM2ImagePredictor
from tests.support.parity import mask_iou


def test_precision_names():
    assert resolve_compute_dtype("exact", "cpu") == torch.float32
    assert resolve_compute_dtype("fast", "cpu") in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="precision"):
        resolve_compute_dtype("turbo", "cpu")


@pytest.mark.slow
def test_bfloat16_encoder_keeps_masks(tiny_checkpoint, media_dir, parity_cases):
    image = np.array(Image.open(media_dir / "truck.jpg").convert("RGB"))
    calls = next(c for c in parity_cases["groups"][0]["image_cases"] if c["name"] == "truck_prompts")["calls"]
    outputs = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = build_sam2("sam2.1_hiera_t", tiny_checkpoint, device="cpu").set_compute_dtype(dtype)
        assert model.compute_dtype == dtype
        predictor = SAM2ImagePredictor(model)
        predictor.set_image(image)
        assert predictor.get_image_embedding().dtype == torch.float32  # outputs stay float32
        outs = []
        for call in calls:
            if "mask_input_from" in call:
                continue
            outs.append(predictor.predict(
                point_coords=np.array(call["point_coords"]) if "point_coords" in call else None,
                point_labels=np.array(call["point_labels"]) if "point_labels" in call else None,
                box=np.array(call["box"]) if "box" in call else None,
                multimask_output=call["multimask_output"]))
        outputs[dtype] = outs
    for (m32, s32, l32), (m16, s16, l16) in zip(outputs[torch.float32], outputs[torch.bfloat16]):
        assert mask_iou(m32, m16).min() >= 0.97
        assert np.abs(s32 - s16).max() < 0.01
        assert np.linalg.norm(l32 - l16) / np.linalg.norm(l32) < 0.03


@pytest.mark.slow
def test_bfloat16_tracking_keeps_masks(tiny_checkpoint, media_dir, parity_cases):
    """Fast mode (bf16 encoder + bf16 memory-attention products) against exact mode on the
    first steps of the bedroom parity case: two objects, 3 tracked frames."""
    from sam2.build_sam import build_sam2_video_predictor
    from tests.support.parity import replay

    steps = next(c for c in parity_cases["groups"][0]["video_cases"] if c["name"] == "bedroom_tracking")["steps"][:3]
    steps = steps[:2] + [dict(steps[2], max_frames=3)]  # 3 tracked frames keep the test short
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        predictor = build_sam2_video_predictor("sam2.1_hiera_t", tiny_checkpoint, device="cpu")
        predictor.set_compute_dtype(dtype)
        records, _ = replay(predictor, media_dir / "bedroom", steps)
        results[dtype] = records
    assert len(results[torch.float32]) == len(results[torch.bfloat16]) >= 5
    for (name, frame, ids, exact), (_, frame16, ids16, fast) in zip(results[torch.float32], results[torch.bfloat16]):
        assert (frame, list(ids)) == (frame16, list(ids16))
        ious = mask_iou((exact > 0).numpy()[:, 0], (fast > 0).numpy()[:, 0])
        assert ious.min() >= 0.97, (name, frame, ious)
