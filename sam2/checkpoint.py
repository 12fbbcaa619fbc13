"""Reading SAM 2 checkpoints safely and checking them against the model.

Official checkpoints are ``torch.save``d dicts ``{"model": state_dict}``; a ``.safetensors``
file of the same state dict is accepted too, and so is a folder in the Hugging Face
transformers layout (``model.safetensors`` + ``config.json``, see ``sam2.hf_layout``). Loading never executes code from the file
(``weights_only=True``), and every way a file can be wrong ends in one ``CheckpointError``
whose message names the problem.
"""

from __future__ import annotations

import os
import zipfile
from typing import Dict, Mapping, Union

import torch
from torch import nn

PathLike = Union[str, os.PathLike]

DOWNLOAD_HINT = (
    "Download the official checkpoints with `bash checkpoints/download_ckpts.sh`, or load from the "
    "Hugging Face Hub with build_sam2_hf('facebook/sam2.1-hiera-large') / "
    "SAM2ImagePredictor.from_pretrained(...)."
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, or does not fit the model."""


def read_state_dict(path: PathLike) -> Dict[str, torch.Tensor]:
    """Read the state dict from a ``.pt`` (``{"model": ...}`` or bare) or ``.safetensors`` file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}. {DOWNLOAD_HINT}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint file is empty: {path} (an interrupted download?). {DOWNLOAD_HINT}")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise CheckpointError("reading .safetensors needs the `safetensors` package") from exc
        try:
            return load_file(path, device="cpu")
        except Exception as exc:
            raise CheckpointError(f"corrupt .safetensors checkpoint {path}: {exc}") from exc
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"could not read checkpoint {path}: the file is corrupt or truncated ({_why(exc)}). {DOWNLOAD_HINT}"
        ) from exc
    except Exception as exc:  # pickle.UnpicklingError and friends: refuse anything but tensors
        raise CheckpointError(
            f"refused to load checkpoint {path}: it is corrupt or not a plain tensor checkpoint "
            f"({_why(exc)}); only weights are loaded, never code. {DOWNLOAD_HINT}"
        ) from exc
    if isinstance(data, Mapping) and "model" in data and isinstance(data["model"], Mapping):
        data = data["model"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"checkpoint {path} does not hold a SAM 2 state dict ({{'model': state_dict}})")
    return dict(data)


def _why(exc: BaseException, limit: int = 200) -> str:
    """The telling part of a ``torch.load`` error, on one line.

    ``weights_only`` refusals are a paragraph of advice around one fact ("Unsupported
    global: GLOBAL argparse.Namespace ..."); a checkpoint error should say the fact only,
    so that it fits the one line an app or a log shows.
    """
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].split(". ", 1)[0].rstrip(".") if lines else ""
    flat = " ".join(first.split()) or type(exc).__name__
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
    ``model.safetensors``) in the transformers layout, renamed by ``sam2.hf_layout`` after
    checking that its ``config.json`` describes ``model``'s config."""
    from sam2 import hf_layout

    if not hf_layout.is_transformers_checkpoint(path):
        return read_state_dict(path)
    expected = getattr(getattr(model, "config", None), "name", None)
    return hf_layout.read_transformers_checkpoint_for(path, expected)


def _mismatch_hint(config, state_dict: Mapping[str, torch.Tensor]) -> str:
    """Say which architecture the file holds when it is not the config's (EdgeTAM vs SAM 2)."""
    from sam2.configs import architecture_name, architecture_of_keys

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
