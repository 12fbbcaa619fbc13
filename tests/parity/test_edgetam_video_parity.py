"""EdgeTAM video parity: replay the three-object ``edgetam_bedroom`` case and compare every
returned mask set with what the EdgeTAM reference returned (same random weights, frames).

The case prompts three objects on frame 0 (points, a box, a mask), tracks, corrects all
three on frame 6, tracks on, tracks backwards, removes one object and tracks again. The
perceiver compresses the three objects' memories in one batch (the reference can only do
one object at a time; its golden data shows the intended arithmetic, see the parity README).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.parity import PARITY_DIR, mask_mismatch, rel_l2
from tests.support.parity import replay

LOGITS_TOL = 2e-3  # video logits are stored as float16
MASK_TOL = 1e-4  # fraction of differing pixels
# On frame 5 of this case the three objects' "is it visible" score is within a few hundredths
# of zero, and float rounding alone decides its sign: ours is -0.026 with BatchNorm folded
# and +0.010 with the unfolded trunk (the reference's is positive). A record may differ only
# there, where every object's score is within this margin of zero.
KNIFE_EDGE_SCORE = 0.05


@pytest.mark.slow
def test_edgetam_bedroom_matches_reference(media_dir, checkpoint_factory):
    from sam2.build_sam import build_sam2_video_predictor

    with open(PARITY_DIR / "edgetam" / "cases.json") as f:
        group = json.load(f)["groups"][0]
    case = next(c for c in group["video_cases"] if c["name"] == "edgetam_bedroom")
    golden = np.load(PARITY_DIR / "edgetam" / "golden" / "edgetam_bedroom.npz")
    ckpt = checkpoint_factory(group["model"], group["seed"])
    # the case visits frames 0..15 repeatedly: caching their features changes no number
    predictor = build_sam2_video_predictor("configs/edgetam.yaml", ckpt, device="cpu", feature_cache_size=16)

    sessions = []
    init_state = predictor.init_state
    predictor.init_state = lambda *a, **k: sessions.append(init_state(*a, **k)) or sessions[-1]
    records, extras = replay(predictor, media_dir / case["frames"], case["steps"])
    state = sessions[0]

    golden_records = sorted({k.split("_")[0] + "_" + k.split("_")[1] for k in golden.files if k.startswith("r")})
    assert [f"r{i:03d}_{name}" for i, (name, *_rest) in enumerate(records)] == golden_records
    worst_logits, worst_mask, knife_edges = 0.0, 0.0, []
    for i, (name, frame_idx, obj_ids, logits) in enumerate(records):
        key = f"r{i:03d}_{name}"
        assert frame_idx == int(golden[f"{key}_frame"]), key
        assert list(obj_ids) == golden[f"{key}_obj_ids"].tolist(), key
        logits = logits.float().cpu()[:, 0]
        err = rel_l2(logits[..., ::4, ::4].numpy(), golden[f"{key}_logits_sub4"].astype(np.float32))
        mism = mask_mismatch((logits > 0).numpy(), golden[f"{key}_masks_packed"], tuple(golden[f"{key}_mask_shape"]))
        if (err >= LOGITS_TOL or mism >= MASK_TOL) and name.endswith("prop"):
            scores = [float(bank.non_cond_frame_outputs[frame_idx].object_score_logits.abs().max())
                      for bank in state.output_dict_per_obj.values() if frame_idx in bank.non_cond_frame_outputs]
            if scores and max(scores) < KNIFE_EDGE_SCORE:
                knife_edges.append((key, frame_idx, max(scores)))
                continue
        worst_logits, worst_mask = max(worst_logits, err), max(worst_mask, mism)
        assert err < LOGITS_TOL, f"{key}: logits differ by {err:.2e} relative L2"
        assert mism < MASK_TOL, f"{key}: {mism:.4%} of mask pixels differ"
    for key, ids in extras.items():
        assert ids == golden[key].tolist(), key
    assert {frame for _, frame, _ in knife_edges} <= {5}, knife_edges
    print(f"\nedgetam_bedroom: {len(records)} records, worst logits rel L2 {worst_logits:.2e}, "
          f"worst mask mismatch {worst_mask:.2e}; knife-edge visibility records {knife_edges}")
