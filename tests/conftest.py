"""Shared fixtures: seeded random-weight checkpoints, the shared test media, thread settings.
Helpers that tests call directly live in the ``tests.support`` package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.support.media import shared_media_dir
from tests.support.parity import PARITY_DIR


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


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: tiny models lose more to threading than they gain on a
    shared 2-core machine. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True, scope="session")
def _threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
