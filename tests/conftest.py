"""Shared fixtures: seeded random-weight checkpoints and paths to the shared test media."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PARITY_DIR = Path(__file__).resolve().parent / "data" / "parity"


def shared_media_dir() -> Path:
    """Real photos/videos live beside the checkpoint (../shared/media), never in the repo."""
    env = os.environ.get("SAM2_SHARED_MEDIA")
    return Path(env) if env else REPO.parent / "shared" / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    d = shared_media_dir()
    if not d.is_dir():
        pytest.fail(f"shared test media not found at {d} (set SAM2_SHARED_MEDIA)")
    return d


@pytest.fixture(scope="session")
def parity_cases() -> dict:
    with open(PARITY_DIR / "cases.json") as f:
        return json.load(f)


def moving_square_clip(num: int, height: int, width: int, seed: int, top: int, left: int,
                       step: int, value: int, side: int = 20) -> np.ndarray:
    """A tiny synthetic clip: dark noise with a bright ``side``-pixel square that moves
    ``step`` pixels to the right per frame (num x height x width x 3, uint8)."""
    frames = (np.random.RandomState(seed).rand(num, height, width, 3) * 60).astype(np.uint8)
    for i in range(num):
        frames[i, top:top + side, left + step * i: left + step * i + side] = value
    return frames


def load_golden(name: str):
    return np.load(PARITY_DIR / "golden" / f"{name}.npz")


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    """``make(config_name, seed=0) -> path`` of a seeded random checkpoint, made once per session."""
    from sam2.testing import write_random_checkpoint

    made = {}
    root = tmp_path_factory.mktemp("checkpoints")

    def make(config_name: str, seed: int = 0) -> str:
        key = (config_name, seed)
        if key not in made:
            made[key] = write_random_checkpoint(str(root / f"{config_name}.seed{seed}.pt"), config_name, seed)
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint(checkpoint_factory) -> str:
    return checkpoint_factory("sam2.1_hiera_t", 0)


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    from sam2.build_sam import build_sam2

    return build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", tiny_checkpoint, device="cpu")


def rel_l2(actual, expected) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-12))


def mask_mismatch(actual_bool: np.ndarray, golden_packed: np.ndarray, shape) -> float:
    """Fraction of pixels where a boolean mask differs from a packbits-packed golden one."""
    golden = np.unpackbits(golden_packed, axis=-1)[..., : shape[-1]].astype(bool).reshape(shape)
    assert actual_bool.shape == golden.shape, (actual_bool.shape, golden.shape)
    return float((actual_bool != golden).mean())


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: tiny models lose more to threading than they gain on a
    shared 2-core machine. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def small_video_predictor(config: str, image_size: int, **kwargs):
    """A seeded random ``SAM2VideoPredictor`` of ``config`` at a small input size, with the
    options the session tests rely on (small holes filled, binarised memory from clicks)."""
    from sam2.configs import get_config
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    torch.manual_seed(0)
    cfg = get_config(config, image_size=image_size, fill_hole_area=8, binarize_mask_from_pts_for_mem_enc=True)
    return SAM2VideoPredictor(cfg, **kwargs).eval()


def check_image_features(predictor, golden, tol: float) -> None:
    """The encoded image of ``predictor`` against a golden case: slices and channel means of
    the image embedding and of both high-resolution feature maps (SAM 2 and EdgeTAM alike)."""
    embed = predictor._features.image_embed[0].numpy()
    assert rel_l2(embed[:16, :8, :8], golden["image_embed_slice"]) < tol
    assert rel_l2(embed.mean(axis=(1, 2)), golden["image_embed_chan_mean"]) < tol
    for i in range(2):
        feat = predictor._features.high_res_feats[i][0].numpy()
        assert rel_l2(feat[:8, :16, :16], golden[f"high_res_{i}_slice"]) < tol, f"high_res_{i}"
        assert rel_l2(feat.mean(axis=(1, 2)), golden[f"high_res_{i}_chan_mean"]) < tol, f"high_res_{i}"


def check_prompt_calls(predictor, calls, golden, score_tol: float, tol: float, mask_tol: float) -> None:
    """Replay a golden case's ``predict`` calls on ``predictor`` (a call may refine the best
    low-res mask of an earlier one) and compare scores, low-res logits, masks and, where the
    case asks, full-size logits; also the output dtypes the reference returns."""
    results = []
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
        assert masks.dtype == np.bool_ and scores.dtype == np.float32 and low.dtype == np.float32
        np.testing.assert_allclose(scores, golden[f"call{i}_scores"], atol=score_tol, err_msg=f"call {i}")
        assert rel_l2(low, golden[f"call{i}_low_res_logits"]) < tol, f"call {i}"
        shape = tuple(golden[f"call{i}_mask_shape"])
        assert mask_mismatch(masks, golden[f"call{i}_masks_packed"], shape) < mask_tol, f"call {i}"
        if call.get("return_logits"):
            logits, _, _ = predictor.predict(**kwargs, return_logits=True)
            assert logits.dtype == np.float32
            assert rel_l2(logits[..., ::4, ::4], golden[f"call{i}_logits_sub4"]) < tol, f"call {i}"


@pytest.fixture(autouse=True, scope="session")
def _threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
