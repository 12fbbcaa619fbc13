"""Video tracking parity: replay the `bedroom_tracking` case of the parity data and compare
every returned mask set with what the reference implementation returned (same random
weights, same frames)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch

from conftest import load_golden, mask_mismatch, rel_l2

CASE = "bedroom_tracking"
LOGITS_TOL = 2e-3  # video logits are stored as float16
MASK_TOL = 1e-4  # fraction of differing pixels


def _case(parity_cases) -> Tuple[dict, dict]:
    for group in parity_cases["groups"]:
        for case in group.get("video_cases", []):
            if case["name"] == CASE:
                return group, case
    raise AssertionError(f"{CASE} not in cases.json")


def replay(predictor, frames_dir: Path, steps: List[dict]) -> Tuple[List[Tuple[str, int, list, torch.Tensor]], Dict[str, list]]:
    """Run the steps; returns the mask sets in call order as (name, frame, obj_ids, logits)
    and the remaining ids after each remove_object, keyed like the golden file."""
    state = predictor.init_state(str(frames_dir))
    records: List[Tuple[str, int, list, torch.Tensor]] = []
    extras: Dict[str, list] = {}
    for s, step in enumerate(steps):
        op = step["op"]
        if op == "add":
            out = predictor.add_new_points_or_box(
                state, frame_idx=step["frame"], obj_id=step["obj_id"], points=step.get("points"),
                labels=step.get("labels"), box=step.get("box"),
                clear_old_points=step.get("clear_old_points", True),
            )
            records.append((f"s{s}add", *out))
        elif op == "add_mask":
            x0, y0, x1, y1 = step["rect"]
            mask = np.zeros((state.video_height, state.video_width), dtype=bool)
            mask[y0:y1, x0:x1] = True
            records.append((f"s{s}mask", *predictor.add_new_mask(state, step["frame"], step["obj_id"], mask)))
        elif op == "propagate":
            for out in predictor.propagate_in_video(
                state, start_frame_idx=step.get("start_frame"),
                max_frame_num_to_track=step.get("max_frames"), reverse=step.get("reverse", False),
            ):
                records.append((f"s{s}prop", *out))
        elif op == "clear_frame":
            records.append((f"s{s}clear", *predictor.clear_all_prompts_in_frame(state, step["frame"], step["obj_id"])))
        elif op == "remove_object":
            remaining, _ = predictor.remove_object(state, step["obj_id"])
            extras[f"s{s}_remaining_ids"] = list(remaining)
        elif op == "reset":
            predictor.reset_state(state)
        else:
            raise AssertionError(f"unknown op {op}")
    return records, extras


@pytest.mark.slow
def test_bedroom_tracking_matches_reference(parity_cases, media_dir, checkpoint_factory):
    from sam2.build_sam import build_sam2_video_predictor

    group, case = _case(parity_cases)
    golden = load_golden(CASE)
    ckpt = checkpoint_factory(group["model"], group["seed"])
    # the case visits frames 0..7 repeatedly: caching their features saves ~20 image
    # encodings and changes no number (features are a pure function of the frame)
    predictor = build_sam2_video_predictor(group["model"], ckpt, device="cpu", feature_cache_size=8)
    assert predictor.fill_hole_area == 8 and predictor.binarize_mask_from_pts_for_mem_enc

    records, extras = replay(predictor, media_dir / case["frames"], case["steps"])

    golden_records = sorted({k.split("_")[0] + "_" + k.split("_")[1] for k in golden.files if k.startswith("r")})
    assert [f"r{i:03d}_{name}" for i, (name, *_rest) in enumerate(records)] == golden_records
    worst_logits, worst_mask = 0.0, 0.0
    for i, (name, frame_idx, obj_ids, logits) in enumerate(records):
        key = f"r{i:03d}_{name}"
        assert frame_idx == int(golden[f"{key}_frame"]), key
        assert list(obj_ids) == golden[f"{key}_obj_ids"].tolist(), key
        logits = logits.float().cpu()[:, 0]  # objects x H x W
        err = rel_l2(logits[..., ::4, ::4].numpy(), golden[f"{key}_logits_sub4"].astype(np.float32))
        mism = mask_mismatch((logits > 0).numpy(), golden[f"{key}_masks_packed"], tuple(golden[f"{key}_mask_shape"]))
        worst_logits, worst_mask = max(worst_logits, err), max(worst_mask, mism)
        assert err < LOGITS_TOL, f"{key}: logits differ by {err:.2e} relative L2"
        assert mism < MASK_TOL, f"{key}: {mism:.4%} of mask pixels differ"
    for key, ids in extras.items():
        assert ids == golden[key].tolist(), key
    print(f"\n{CASE}: {len(records)} records, worst logits rel L2 {worst_logits:.2e}, "
          f"worst mask mismatch {worst_mask:.2e}")
