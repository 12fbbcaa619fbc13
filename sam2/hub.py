"""Checkpoints from the Hugging Face Hub: fetch (or find in the local cache) an official model,
or a checkpoint folder in the transformers layout.

Used by the builders (``sam2.build_sam.build_sam2_hf``) and by the predictors'
``from_pretrained`` alike; it builds nothing itself, so neither side imports the other.
"""

from __future__ import annotations

import os
from typing import Tuple

from sam2.configs import HF_MODELS
from sam2.transformers_folder import CONFIG_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME, weight_files

__all__ = ["HubDownloadError", "download_transformers_checkpoint", "hf_download", "hub_unreachable_reason"]


class HubDownloadError(RuntimeError):
    """A checkpoint could not be fetched from the Hugging Face Hub (and is not cached)."""


def hub_unreachable_reason() -> str:
    """Why a Hub download failed, in words: offline mode, or no connection to the Hub."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    return "offline mode is on (HF_HUB_OFFLINE)" if offline else "the Hub could not be reached"


def hf_download(model_id: str) -> Tuple[str, str]:
    """Fetch (or find in the local cache) the checkpoint of an official Hub model.

    Returns ``(config_name, local_path)``: which architecture and size the checkpoint is
    comes from ``sam2.configs.HF_MODELS``. Raises ``HubDownloadError`` with advice when the
    Hub cannot be reached and the file is not cached.
    """
    if model_id not in HF_MODELS:
        known = ", ".join(sorted(HF_MODELS))
        raise ValueError(f"unknown SAM 2 model id {model_id!r}; expected one of {known}")
    config_name, file_name = HF_MODELS[model_id]
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover
        raise HubDownloadError("loading from the Hub needs the `huggingface_hub` package") from exc
    try:
        return config_name, hf_hub_download(repo_id=model_id, filename=file_name)
    except Exception as exc:
        why = hub_unreachable_reason()
        raise HubDownloadError(
            f"could not get {file_name} for {model_id}: {why} and the file is not in the local "
            f"Hugging Face cache ({type(exc).__name__}: {exc}). Check the network connection, or "
            f"download {file_name} from https://huggingface.co/{model_id} and pass its path "
            f"(build_sam2('{config_name}', '<path>') or `python app.py --checkpoint <path>`)."
        ) from exc


def download_transformers_checkpoint(repo_id: str, **hub_kwargs) -> str:
    """Fetch (or find in the local Hugging Face cache) the transformers-layout checkpoint of a
    Hub repo; returns the local folder, to pass as ``ckpt_path``::

        build_sam2("sam2.1_hiera_t", download_transformers_checkpoint("facebook/sam2.1-hiera-tiny"))

    ``hub_kwargs`` go to ``hf_hub_download`` (``revision``, ``cache_dir``, ``local_files_only``...).
    """
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - a requirement
        raise HubDownloadError("loading from the Hub needs the `huggingface_hub` package") from exc

    def fetch(file_name: str) -> str:
        try:
            return hf_hub_download(repo_id=repo_id, filename=file_name, **hub_kwargs)
        except Exception as exc:
            raise HubDownloadError(
                f"could not get {file_name} of {repo_id} from the Hugging Face Hub or the local cache "
                f"({type(exc).__name__}: {exc}). Check the repo id and the network connection."
            ) from exc

    folder = os.path.dirname(fetch(CONFIG_NAME))
    try:
        fetch(WEIGHTS_NAME)
    except HubDownloadError as single_failed:
        try:
            index = fetch(WEIGHTS_INDEX_NAME)
        except HubDownloadError:
            raise single_failed from None
        for shard in weight_files(index, folder):
            fetch(os.path.basename(shard))
    return folder
