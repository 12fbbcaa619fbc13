"""Checkpoint folders in the Hugging Face transformers layout: ``model.safetensors`` + ``config.json``.

Reading such a folder (which of our models its ``config.json`` describes, which weight files
it has, its tensors renamed to the official names), and writing one the way transformers
saves it. The renaming itself is the table in ``sam2.transformers_keys``; downloading a
folder from the Hub is ``sam2.hub.download_transformers_checkpoint``. Every way a folder can
be wrong ends in a ``CheckpointError`` that says what is wrong.
"""

from __future__ import annotations

import json
import os
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sam2.checkpoint_file import CheckpointError, PathLike, StateDict, read_state_dict
from sam2.configs import CONFIGS, get_config
from sam2.transformers_keys import (
    TOP_LEVEL_KEYS, KeyMappingError, from_transformers_state_dict, to_transformers_state_dict,
)

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"

EDGETAM = "edgetam"


# --------------------------------------------------------------------------------------------
# config.json: which of our models the folder holds
# --------------------------------------------------------------------------------------------

_SAM2_TYPES = ("sam2_video", "sam2")
_EDGETAM_TYPES = ("edgetam_video", "edgetam")
# transformers writes every field, but a hand-made config.json may rely on its defaults
# (Sam2VideoConfig(): SAM 2.1, Hiera tiny).
_DEFAULT_STAGES, _DEFAULT_HIDDEN = (1, 2, 7, 2), 96


def config_name_from_transformers_config(config: Mapping, weight_keys: Sequence[str] = (),
                                         source: str = CONFIG_NAME) -> str:
    """Our config name (``sam2.1_hiera_t`` ... or ``edgetam``) for a transformers ``config.json``."""
    model_type = config.get("model_type")
    if model_type in _EDGETAM_TYPES:
        return EDGETAM
    if model_type not in _SAM2_TYPES:
        raise CheckpointError(
            f"{source} describes a {model_type!r} model; expected SAM 2 ('sam2_video') or EdgeTAM "
            "('edgetam_video') in the transformers layout"
        )
    backbone = (config.get("vision_config") or {}).get("backbone_config") or {}
    stages = tuple(backbone.get("blocks_per_stage", _DEFAULT_STAGES))
    hidden = backbone.get("hidden_size", _DEFAULT_HIDDEN)
    flags = [config[f] for f in ("enable_occlusion_spatial_embedding",
                                 "enable_temporal_pos_encoding_for_object_pointers") if f in config]
    if flags:
        family = "sam2.1" if any(flags) else "sam2"
    else:  # the image-only Sam2Config has no such switch: the weights tell
        family = "sam2.1" if TOP_LEVEL_KEYS["no_obj_embed_spatial"] in weight_keys or not weight_keys else "sam2"
    for name, cfg in CONFIGS.items():
        if cfg.family == family and cfg.trunk.stages == stages and cfg.trunk.embed_dim == hidden:
            return name
    raise CheckpointError(
        f"{source} describes a Hiera image encoder (blocks per stage {list(stages)}, width {hidden}) "
        "that matches none of the official SAM 2 sizes (tiny, small, base+, large)"
    )


def transformers_config(config_name: str) -> dict:
    """A ``config.json`` for ``config_name`` with the fields transformers needs to build the model."""
    cfg = get_config(config_name)
    if cfg.architecture == "edgetam":
        backbone = {"model_type": "timm_wrapper", "architecture": "repvit_m1.dist_in1k",
                    "model_args": {"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]}}
        return {"architectures": ["EdgeTamVideoModel"], "model_type": "edgetam_video",
                "enable_occlusion_spatial_embedding": False,
                "enable_temporal_pos_encoding_for_object_pointers": False,
                "vision_config": {"model_type": "edgetam_vision_model", "backbone_config": backbone,
                                  "backbone_channel_list": [384, 192, 96, 48]}}
    trunk = cfg.trunk
    dims = [int(trunk.embed_dim * trunk.dim_mul**i) for i in range(len(trunk.stages))]
    heads = [int(trunk.num_heads * trunk.head_mul**i) for i in range(len(trunk.stages))]
    is_21 = cfg.family == "sam2.1"
    return {
        "architectures": ["Sam2VideoModel"], "model_type": "sam2_video",
        "enable_occlusion_spatial_embedding": is_21, "enable_temporal_pos_encoding_for_object_pointers": is_21,
        "vision_config": {
            "model_type": "sam2_vision_model", "backbone_channel_list": list(trunk.channel_list),
            "backbone_config": {
                "model_type": "sam2_hiera_det_model", "hidden_size": trunk.embed_dim,
                "num_attention_heads": trunk.num_heads, "blocks_per_stage": list(trunk.stages),
                "embed_dim_per_stage": dims, "num_attention_heads_per_stage": heads,
                "global_attention_blocks": list(trunk.global_att_blocks),
                "window_positional_embedding_background_size": list(trunk.window_pos_embed_bkg_spatial_size),
                "window_size_per_stage": list(trunk.window_spec),
            },
        },
    }


# --------------------------------------------------------------------------------------------
# Folders on disk
# --------------------------------------------------------------------------------------------


def _safetensors_keys(path: str) -> List[str]:
    try:
        with safe_open(path, framework="pt") as f:
            return list(f.keys())
    except Exception:  # unreadable: the ordinary reader reports it
        return []


def is_transformers_checkpoint(path: PathLike) -> bool:
    """A folder, a ``*.safetensors.index.json``, or a ``.safetensors`` file with transformers' names."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return True
    if path.endswith(".safetensors.index.json"):
        return True
    if path.endswith(".safetensors") and os.path.isfile(path):
        return any(k.startswith(("vision_encoder.", "prompt_encoder.")) for k in _safetensors_keys(path))
    return False


def weight_files(path: str, folder: str) -> List[str]:
    """The weight files of a transformers-layout checkpoint: ``path`` itself (a ``.safetensors``),
    the shards an index lists, or the folder's ``model.safetensors``."""
    if os.path.isfile(path) and path.endswith(".safetensors"):
        return [path]
    index = path if path.endswith(".index.json") else os.path.join(folder, WEIGHTS_INDEX_NAME)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"unreadable {os.path.basename(index)} in {folder}: {exc}") from exc
        return [os.path.join(folder, s) for s in shards]
    single = os.path.join(folder, WEIGHTS_NAME)
    if os.path.isfile(single):
        return [single]
    raise CheckpointError(
        f"{folder} has no {WEIGHTS_NAME}: a checkpoint folder in the transformers layout holds "
        f"{WEIGHTS_NAME} and {CONFIG_NAME} (as the Hub repos facebook/sam2.1-hiera-* do)"
    )


def read_transformers_config(folder: str) -> dict:
    """The parsed ``config.json`` of a transformers-layout folder (a ``CheckpointError`` if absent or bad)."""
    path = os.path.join(folder, CONFIG_NAME)
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{folder} holds weights in the transformers layout but no {CONFIG_NAME}; it is needed to "
            f"know which model they are (SAM 2 or 2.1, which size, or EdgeTAM). Put the {CONFIG_NAME} "
            f"from the same Hugging Face repo next to {WEIGHTS_NAME}."
        )
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable {CONFIG_NAME} in {folder}: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{CONFIG_NAME} in {folder} is not a JSON object")
    return config


def read_transformers_checkpoint(path: PathLike) -> Tuple[str, StateDict]:
    """Read a transformers-layout checkpoint; returns ``(our config name, official state dict)``.

    ``path``: the folder, its ``model.safetensors`` or its ``model.safetensors.index.json``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    files = weight_files(path, folder)
    config = read_transformers_config(folder)
    hf_state: StateDict = {}
    for file in files:
        hf_state.update(read_state_dict(file))
    source = f"transformers checkpoint {folder}"
    name = config_name_from_transformers_config(config, list(hf_state), source=f"{CONFIG_NAME} in {folder}")
    if config.get("model_type") in ("sam2", "edgetam") and not any(k.startswith("memory_attention.") for k in hf_state):
        raise CheckpointError(
            f"{source} is an image-only {config['model_type']!r} model without the memory weights; use the "
            "video model's checkpoint (model_type 'sam2_video' / 'edgetam_video', as on the Hub)"
        )
    try:
        return name, from_transformers_state_dict(hf_state, get_config(name).architecture, source=source)
    except KeyMappingError as exc:
        raise CheckpointError(str(exc)) from exc


def read_transformers_checkpoint_for(path: PathLike, expected_config: Optional[str]) -> StateDict:
    """As ``read_transformers_checkpoint``, refusing a folder whose config.json names another model."""
    name, state_dict = read_transformers_checkpoint(path)
    if expected_config is not None and name != expected_config:
        raise CheckpointError(
            f"{CONFIG_NAME} of {os.fspath(path)} describes {name}, but the model being built is "
            f"{expected_config}; pass the matching config (e.g. build_sam2('{name}', ...))"
        )
    return state_dict


def write_transformers_checkpoint(folder: PathLike, state_dict: Mapping[str, torch.Tensor],
                                  config_name: str) -> str:
    """Write an official state dict as transformers would save it: ``model.safetensors`` + ``config.json``."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    architecture = get_config(config_name).architecture
    hf_state = {k: v.contiguous() for k, v in to_transformers_state_dict(state_dict, architecture).items()}
    save_file(hf_state, os.path.join(folder, WEIGHTS_NAME), metadata={"format": "pt"})
    with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as f:
        json.dump(transformers_config(config_name), f, indent=2)
    return folder
