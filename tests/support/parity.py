"""Parity helpers: the golden cases made by the reference implementations (tests/data/parity) and
the comparisons every parity test uses (relative L2, mask mismatch, image features, prompt replay)."""

from __future__ import annotations


from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from tests.support.paths import TEST_DATA

PARITY_DIR = TEST_DATA / "parity"


def load_golden(name: str):
    return np.load(PARITY_DIR / "golden" / f"{name}.npz")



def rel_l2(actual, expected) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-12))



def mask_mismatch(actual_bool: np.ndarray, golden_packed: np.ndarray, shape) -> float:
    """Fraction of pixels where a boolean mask differs from a packbits-packed golden one."""
    golden = np.unpackbits(golden_packed, axis=-1)[..., : shape[-1]].astype(bool).reshape(shape)
    assert actual_bool.shape == golden.shape, (actual_bool.shape, golden.shape)
    return float((actual_bool != golden).mean())



def image_feature_errors(predictor, golden) -> Dict[str, float]:
    """Relative L2 of the encoded image of ``predictor`` against a golden case, per measure:
    slices and channel means of the image embedding and of both high-resolution feature
    maps (SAM 2 and EdgeTAM alike). Measured, not asserted, so that bench/gpu_check.py can
    report them; read back from any device."""
    features = predictor._features
    embed = features.image_embed[0].float().cpu().numpy()
    errors = {"image_embed_slice": rel_l2(embed[:16, :8, :8], golden["image_embed_slice"]),
              "image_embed_chan_mean": rel_l2(embed.mean(axis=(1, 2)), golden["image_embed_chan_mean"])}
    for i in range(2):
        feat = features.high_res_feats[i][0].float().cpu().numpy()
        errors[f"high_res_{i}_slice"] = rel_l2(feat[:8, :16, :16], golden[f"high_res_{i}_slice"])
        errors[f"high_res_{i}_chan_mean"] = rel_l2(feat.mean(axis=(1, 2)), golden[f"high_res_{i}_chan_mean"])
    return errors


def check_image_features(predictor, golden, tol: float) -> None:
    """The encoded image of ``predictor`` against a golden case (``image_feature_errors``):
    every measure within ``tol``."""
    for name, err in image_feature_errors(predictor, golden).items():
        assert err < tol, f"{name}: relative L2 {err:.2e}"



def prompt_call_errors(predictor, calls, golden) -> List[Dict[str, float]]:
    """Replay a golden case's ``predict`` calls on ``predictor`` (a call may refine the best
    low-res mask of an earlier one) and measure each against the reference: the largest
    score difference, relative L2 of the low-res logits and, where the case asks, of the
    full-size logits, the fraction of differing mask pixels, and whether the outputs have the
    reference's dtypes and score shape. Measured, not asserted (bench/gpu_check.py reports them)."""
    results, errors = [], []
    for i, call in enumerate(calls):
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
        masks, scores, low = predictor.predict(**kwargs)
        results.append((masks, scores, low))
        golden_scores = golden[f"call{i}_scores"]
        err = {
            "outputs_ok": bool(masks.dtype == np.bool_ and scores.dtype == np.float32 and low.dtype == np.float32
                               and scores.shape == golden_scores.shape),
            "score_abs": float(np.abs(scores.astype(np.float64) - golden_scores).max()),
            "low_res_rel_l2": rel_l2(low, golden[f"call{i}_low_res_logits"]),
            "mask_mismatch": mask_mismatch(masks, golden[f"call{i}_masks_packed"], tuple(golden[f"call{i}_mask_shape"])),
        }
        if call.get("return_logits"):
            logits, _, _ = predictor.predict(**kwargs, return_logits=True)
            err["outputs_ok"] = err["outputs_ok"] and logits.dtype == np.float32
            err["logits_rel_l2"] = rel_l2(logits[..., ::4, ::4], golden[f"call{i}_logits_sub4"])
        errors.append(err)
    return errors


def check_prompt_calls(predictor, calls, golden, score_tol: float, tol: float, mask_tol: float) -> None:
    """``prompt_call_errors`` within the given bounds for every call: scores (absolute),
    low-res and full-size logits (relative L2), masks (fraction of pixels); the output
    dtypes the reference returns."""
    for i, err in enumerate(prompt_call_errors(predictor, calls, golden)):
        assert err["outputs_ok"], f"call {i}: output dtypes or score shape differ from the reference's"
        assert err["score_abs"] <= score_tol, f"call {i}: scores differ by {err['score_abs']:.2e}"
        assert err["low_res_rel_l2"] < tol, f"call {i}: low-res logits {err['low_res_rel_l2']:.2e}"
        assert err["mask_mismatch"] < mask_tol, f"call {i}: {err['mask_mismatch']:.4%} of mask pixels differ"
        if "logits_rel_l2" in err:
            assert err["logits_rel_l2"] < tol, f"call {i}: logits {err['logits_rel_l2']:.2e}"


def replay(predictor, frames_dir: Path, steps: List[dict]) -> Tuple[List[Tuple[str, int, list, torch.Tensor]], Dict[str, list]]:
    """Run the steps on a new session of ``frames_dir``; returns the mask sets in call order as
    (name, frame, obj_ids, logits) and the remaining ids after each remove_object, keyed like
    the golden file."""
    return replay_steps(predictor, predictor.init_state(str(frames_dir)), steps)


def replay_steps(predictor, state, steps: List[dict]) -> Tuple[List[Tuple[str, int, list, torch.Tensor]], Dict[str, list]]:
    """``replay`` on a session the caller made (e.g. with other ``init_state`` options)."""
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


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boolean masks over the last two axes (1 where both are empty)."""
    inter = (a & b).sum(axis=(-1, -2))
    union = (a | b).sum(axis=(-1, -2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
