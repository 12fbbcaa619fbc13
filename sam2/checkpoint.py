"""Reading SAM 2 checkpoints of any layout safely and checking them against the model.

Official checkpoints are ``torch.save``d dicts ``{"model": state_dict}``; a ``.safetensors``
file of the same state dict is accepted too (both read by ``sam2.checkpoint_file``), and so
is a folder in the Hugging Face transformers layout (``model.safetensors`` + ``config.json``,
read by ``sam2.transformers_folder``). Loading never executes code from the file, and every
way a checkpoint can be wrong (unreadable, another model, missing or extra keys) ends in one
``CheckpointError`` whose message names the problem.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping

import torch
from torch import nn

from sam2 import transformers_folder
from sam2.checkpoint_file import DOWNLOAD_HINT, CheckpointError, PathLike, read_state_dict
from sam2.configs import architecture_name, architecture_of_keys

__all__ = ["CheckpointError", "DOWNLOAD_HINT", "PathLike", "check_state_dict", "load_checkpoint",
           "read_state_dict", "read_state_dict_for"]


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` listing missing/unexpected keys and shape mismatches."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [
        f"{k}: {tuple(state_dict[k].shape)} in file, {tuple(expected[k].shape)} in model"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:5])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:5])})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches (e.g. {'; '.join(wrong_shape[:3])})")
    if problems:
        config = getattr(model, "config", None)
        name = getattr(config, "name", type(model).__name__)
        raise CheckpointError(
            f"{source} does not match model config {name}: " + "; ".join(problems)
            + ". " + _mismatch_hint(config, state_dict)
        )


def read_state_dict_for(model: nn.Module, path: PathLike) -> Dict[str, torch.Tensor]:
    """The official-layout state dict in ``path``: an official file, or a folder (or its
    ``model.safetensors``) in the transformers layout, renamed by ``sam2.transformers_keys``
    after checking that its ``config.json`` describes ``model``'s config."""
    if not transformers_folder.is_transformers_checkpoint(path):
        return read_state_dict(path)
    expected = getattr(getattr(model, "config", None), "name", None)
    return transformers_folder.read_transformers_checkpoint_for(path, expected)


def _mismatch_hint(config, state_dict: Mapping[str, torch.Tensor]) -> str:
    """Say which architecture the file holds when it is not the config's (EdgeTAM vs SAM 2)."""
    found = architecture_of_keys(state_dict)
    wanted = getattr(config, "architecture", None)
    if found is not None and wanted is not None and found != wanted:
        config_hint = "configs/edgetam.yaml" if found == "edgetam" else "the SAM 2 / SAM 2.1 config of its size"
        return (f"The file is a checkpoint of {architecture_name(found)}, but the config builds "
                f"{architecture_name(wanted)}: use {config_hint}.")
    if found is None and state_dict:
        return "The file does not look like a SAM 2 or EdgeTAM checkpoint."
    return "Is it a checkpoint of a different model size or version (SAM 2 vs SAM 2.1), or a truncated file?"


def load_checkpoint(model: nn.Module, path: PathLike) -> None:
    """Load ``path`` into ``model`` strictly (every key, every shape)."""
    state_dict = read_state_dict_for(model, path)
    check_state_dict(model, state_dict, source=f"checkpoint {os.fspath(path)}")
    model.load_state_dict(state_dict, strict=True)
