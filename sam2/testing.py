"""Seeded random weights in the official checkpoint layout, for tests and benchmarks.

No real SAM 2 weights are available where the project is built and tested, so parity with
the reference is checked on random weights that both sides generate identically. The rule
(from the parity data's README): for each state-dict key, a NumPy ``RandomState`` seeded
with ``crc32(key) ^ seed`` draws standard normals ``z`` of the key's shape; 1-D ``*.weight``
(norm scales) become ``1 + 0.1 z``, other ``*.weight`` become ``z / sqrt(fan_in)``, anything
else ``0.1 z``; all float32. BatchNorm buffers (EdgeTAM's RepViT trunk) add two lines:
``*.running_var`` becomes ``1 + 0.1 z`` (a variance must be positive) and integer buffers
(``*.num_batches_tracked``) zeros of their dtype. The legacy ``RandomState`` stream is stable
across NumPy versions.
"""

from __future__ import annotations

import math
import os
import zlib
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from sam2.configs import HF_MODELS, get_config
from sam2.modeling.sam2_base import SAM2Base


def fill_value(key: str, shape: Tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32) -> np.ndarray:
    if not dtype.is_floating_point:
        return np.zeros(shape, dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    rs = np.random.RandomState((zlib.crc32(key.encode("utf-8")) ^ seed) & 0xFFFFFFFF)
    z = rs.standard_normal(size=shape)
    if (key.endswith(".weight") and len(shape) == 1) or key.endswith(".running_var"):
        return (1.0 + 0.1 * z).astype(np.float32)
    if key.endswith(".weight") and len(shape) >= 2:
        return (z / math.sqrt(int(np.prod(shape[1:])))).astype(np.float32)
    return (0.1 * z).astype(np.float32)


def _meta_state_dict(config_name: str) -> Dict[str, torch.Tensor]:
    with torch.device("meta"):
        return SAM2Base(get_config(config_name)).state_dict()


def model_shapes(config_name: str) -> Dict[str, Tuple[int, ...]]:
    """Every state-dict key of a model and its shape (from our own module tree)."""
    return {k: tuple(v.shape) for k, v in _meta_state_dict(config_name).items()}


def random_state_dict(config_name: str, seed: int = 0) -> Dict[str, torch.Tensor]:
    return {
        k: torch.from_numpy(fill_value(k, tuple(v.shape), seed, v.dtype))
        for k, v in _meta_state_dict(config_name).items()
    }


def write_random_checkpoint(path: str, config_name: str, seed: int = 0) -> str:
    """Write ``{"model": state_dict}`` with seeded random weights; returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"model": random_state_dict(config_name, seed)}, path)
    return path


def hf_cache_snapshot(cache_dir: str, repo_id: str) -> str:
    """The snapshot folder of ``repo_id`` in a Hugging Face hub cache at ``cache_dir``, created
    with its ``refs/main`` as ``huggingface_hub`` lays it out; files put there are found by
    ``hf_hub_download`` offline (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``)."""
    revision = "0" * 40
    repo_dir = os.path.join(cache_dir, "models--" + repo_id.replace("/", "--"))
    snapshot = os.path.join(repo_dir, "snapshots", revision)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(repo_dir, "refs"), exist_ok=True)
    with open(os.path.join(repo_dir, "refs", "main"), "w") as f:
        f.write(revision)
    return snapshot


def populate_hf_cache(cache_dir: str, model_id: str, seed: int = 0, checkpoint: Optional[str] = None) -> str:
    """Lay out a Hugging Face hub cache holding ``model_id``'s checkpoint file.

    The layout is the one ``huggingface_hub`` writes (``models--org--name/snapshots/<rev>/``
    plus ``refs/main``), so ``hf_hub_download(..., )`` finds the file with
    ``HF_HUB_OFFLINE=1`` exactly as on a user's machine after a first download. Pass the
    directory as ``HF_HUB_CACHE`` (or ``HF_HOME``/hub). Returns the file's path.
    """
    if model_id not in HF_MODELS:
        raise ValueError(f"unknown model id {model_id!r}")
    config_name, file_name = HF_MODELS[model_id]
    target = os.path.join(hf_cache_snapshot(cache_dir, model_id), file_name)
    if checkpoint is not None:
        if os.path.exists(target):
            os.remove(target)
        os.symlink(os.path.abspath(checkpoint), target)
    else:
        write_random_checkpoint(target, config_name, seed)
    return target
