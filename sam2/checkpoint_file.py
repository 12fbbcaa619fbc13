"""Reading one checkpoint file safely: the state dict of a ``.pt`` or ``.safetensors`` file.

Official checkpoints are ``torch.save``d dicts ``{"model": state_dict}``; a ``.safetensors``
file of the same state dict is accepted too. Loading never executes code from the file
(``weights_only=True``), and every way a file can be wrong ends in one ``CheckpointError``
whose message names the problem. This is the bottom of the checkpoint modules: the
transformers-folder reader (``sam2.transformers_folder``) reads its shards with it, and
``sam2.checkpoint`` (the public face: any layout, checked against the model) reads both.
"""

from __future__ import annotations

import os
import zipfile
from typing import Dict, Mapping, Union

import torch

PathLike = Union[str, os.PathLike]
StateDict = Dict[str, torch.Tensor]

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
