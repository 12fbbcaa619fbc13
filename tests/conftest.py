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


@pytest.fixture(autouse=True, scope="session")
def _threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
