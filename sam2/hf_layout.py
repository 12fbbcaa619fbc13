"""Checkpoints in the Hugging Face transformers layout: ``model.safetensors`` + ``config.json``.

The Hub repos ``facebook/sam2.1-hiera-*`` also hold the weights as transformers'
``Sam2VideoModel`` saved them, and ``yonigozlan/EdgeTAM-hf`` holds EdgeTAM
as ``EdgeTamVideoModel``. Those files carry the same numbers as the official ``.pt`` under
other names (transformers' conversion scripts rename every module, merge the four point
embeddings into one matrix, split the perceiver's fused key/value projection and keep the
prompt encoder's random-Fourier matrix twice). This module is the exact two-way mapping
between the two layouts, so that such a folder loads into our models unchanged, and the
reader of the folder (which model ``config.json`` describes, with errors that say what is
wrong).

The mapping is one table (``_SECTIONS``): for each top-level module, the official and the
transformers prefix and a chain of renames inside it. Official -> transformers applies the
chain in order; the reverse applies it backwards, so the two directions cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from sam2.checkpoint import CheckpointError, PathLike

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"

EDGETAM = "edgetam"
# Architecture families whose module names differ (EdgeTAM's memory attention names its MLP):
# the values of ``SAM2Config.architecture``, which says which architecture a config builds.
_SAM2_FAMILY, _EDGETAM_FAMILY = "sam2", "edgetam"

StateDict = Dict[str, torch.Tensor]


# --------------------------------------------------------------------------------------------
# Renaming rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rename:
    """One rename inside a section: ``official`` <-> ``hf`` dotted templates.

    ``{n}`` stands for an integer (captured on one side, written on the other, in order);
    a template matches whole dot-separated segments; a leading ``^`` anchors it to the start
    of the key inside its section.
    """

    official: str
    hf: str

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def _regex(template: str) -> "re.Pattern[str]":
        anchored = template.startswith("^")
        body = re.escape(template.lstrip("^")).replace(r"\{n\}", r"(\d+)")
        start = "^" if anchored else r"(?:^|(?<=\.))"
        return re.compile(start + body + r"(?=\.|$)")

    @staticmethod
    def _fill(template: str, numbers: Sequence[str]) -> str:
        out = template.lstrip("^")
        for number in numbers:
            out = out.replace("{n}", number, 1)
        return out

    def apply(self, key: str, to_hf: bool) -> str:
        source, target = (self.official, self.hf) if to_hf else (self.hf, self.official)
        return self._regex(source).sub(lambda m: self._fill(target, m.groups()), key)


@dataclass(frozen=True)
class _Section:
    """A top-level module: its prefix in each layout and the renames of what follows it."""

    official: str
    hf: str
    renames: Tuple[_Rename, ...] = ()
    families: Tuple[str, ...] = (_SAM2_FAMILY, _EDGETAM_FAMILY)


def _r(official: str, hf: str) -> _Rename:
    return _Rename(official, hf)


def _three_layer_mlp(head: str) -> Tuple[_Rename, ...]:
    """transformers names a 3-layer MLP's layers ``proj_in``, ``layers.0``, ``proj_out``; the
    order matters (``layers.1`` becomes ``layers.0`` once ``layers.0`` has moved). ``head``: the
    MLP's path with a trailing dot, or ``^`` when the MLP is the section itself."""
    return (_r(f"{head}layers.0", f"{head}proj_in"),
            _r(f"{head}layers.1", f"{head}layers.0"),
            _r(f"{head}layers.2", f"{head}proj_out"))


_HIERA = (
    _r("patch_embed.proj", "patch_embed.projection"),
    _r("blocks.{n}.norm{n}", "blocks.{n}.layer_norm{n}"),
    _r("blocks.{n}.mlp.layers.0", "blocks.{n}.mlp.proj_in"),
    _r("blocks.{n}.mlp.layers.1", "blocks.{n}.mlp.proj_out"),
)

_PROMPT_ENCODER = (
    _r("pe_layer.positional_encoding_gaussian_matrix", "shared_embedding.positional_embedding"),
    _r("point_embeddings.{n}", "point_embed.{n}"),  # then merged into one (4, C) matrix
    _r("mask_downscaling.0", "mask_embed.conv1"),
    _r("mask_downscaling.1", "mask_embed.layer_norm1"),
    _r("mask_downscaling.3", "mask_embed.conv2"),
    _r("mask_downscaling.4", "mask_embed.layer_norm2"),
    _r("mask_downscaling.6", "mask_embed.conv3"),
)

_MASK_DECODER = (
    _r("output_upscaling.0", "upscale_conv1"),
    _r("output_upscaling.1", "upscale_layer_norm"),
    _r("output_upscaling.3", "upscale_conv2"),
    *_three_layer_mlp("iou_prediction_head."),
    *_three_layer_mlp("pred_obj_score_head."),
    *_three_layer_mlp("output_hypernetworks_mlps.{n}."),
    _r("transformer.layers.{n}.mlp.layers.0", "transformer.layers.{n}.mlp.proj_in"),
    _r("transformer.layers.{n}.mlp.layers.1", "transformer.layers.{n}.mlp.proj_out"),
    _r("transformer.layers.{n}.norm{n}", "transformer.layers.{n}.layer_norm{n}"),
    _r("transformer.norm_final_attn", "transformer.layer_norm_final_attn"),
    _r("out_proj", "o_proj"),
)

_MEMORY_ATTENTION = (
    _r("layers.{n}.norm{n}", "layers.{n}.layer_norm{n}"),
    _r("^norm", "^layer_norm"),
    _r("out_proj", "o_proj"),
)

_MEMORY_ENCODER = (
    _r("pix_feat_proj", "feature_projection"),
    _r("^out_proj", "^projection"),
    _r("fuser.layers.{n}.dwconv", "memory_fuser.layers.{n}.depthwise_conv"),
    _r("fuser.layers.{n}.norm", "memory_fuser.layers.{n}.layer_norm"),
    _r("fuser.layers.{n}.pwconv{n}", "memory_fuser.layers.{n}.pointwise_conv{n}"),
    _r("fuser.layers.{n}.gamma", "memory_fuser.layers.{n}.scale"),
    # The mask downsampler is a flat Sequential (conv, norm, GELU) x 4 + a final 1x1 conv
    # in the official model (total stride 16 in steps of 2, the same in every config).
    *(_r(f"mask_downsampler.encoder.{3 * i}", f"mask_downsampler.layers.{i}.conv") for i in range(4)),
    *(_r(f"mask_downsampler.encoder.{3 * i + 1}", f"mask_downsampler.layers.{i}.layer_norm") for i in range(4)),
    _r("mask_downsampler.encoder.12", "mask_downsampler.final_conv"),
)


def _perceiver_attention(official: str, hf: str, norm: Tuple[Tuple[str, str], ...]) -> Tuple[_Rename, ...]:
    return (
        *(_r(f"layers.{{n}}.{official}.{o}", f"layers.{{n}}.{h}") for o, h in norm),
        _r(f"layers.{{n}}.{official}.to_q", f"layers.{{n}}.{hf}.q_proj"),
        _r(f"layers.{{n}}.{official}.to_kv", f"layers.{{n}}.{hf}.kv_proj_combined"),  # then split
        _r(f"layers.{{n}}.{official}.to_out", f"layers.{{n}}.{hf}.o_proj"),
    )


def _perceiver_mlp(official: str, hf: str) -> Tuple[_Rename, ...]:
    return (_r(f"layers.{{n}}.{official}.0", f"layers.{{n}}.{hf}.layer_norm"),
            _r(f"layers.{{n}}.{official}.1", f"layers.{{n}}.{hf}.up_proj"),
            _r(f"layers.{{n}}.{official}.3", f"layers.{{n}}.{hf}.down_proj"))


_SPATIAL_PERCEIVER = (
    _r("^latents", "^latents_1d"),
    *_perceiver_attention("attn", "cross_attention",
                          (("norm_x", "layer_norm_input"), ("norm_latents", "layer_norm_latents"))),
    *_perceiver_attention("self_attn", "self_attention", (("norm", "layer_norm_self"),)),
    *_perceiver_mlp("ff", "mlp"),
    *_perceiver_mlp("self_ff", "self_mlp"),
    _r("^norm", "^layer_norm"),
)

# The first section whose prefix starts a key renames it. EdgeTAM's trunk is timm's RepViT, whose
# names transformers keeps as they are under ``timm_model.``; SAM 2's is Hiera.
_SECTIONS: Tuple[_Section, ...] = (
    _Section("image_encoder.trunk.body.", "vision_encoder.backbone.timm_model.", families=(_EDGETAM_FAMILY,)),
    _Section("image_encoder.trunk.", "vision_encoder.backbone.", _HIERA, families=(_SAM2_FAMILY,)),
    _Section("image_encoder.neck.", "vision_encoder.neck.", (_r("convs.{n}.conv", "convs.{n}"),)),
    _Section("sam_prompt_encoder.", "prompt_encoder.", _PROMPT_ENCODER),
    _Section("sam_mask_decoder.", "mask_decoder.", _MASK_DECODER),
    _Section("memory_attention.", "memory_attention.", _MEMORY_ATTENTION, families=(_SAM2_FAMILY,)),
    _Section("memory_attention.", "memory_attention.",
             _MEMORY_ATTENTION + (_r("layers.{n}.linear1", "layers.{n}.mlp.up_proj"),
                                  _r("layers.{n}.linear2", "layers.{n}.mlp.down_proj")),
             families=(_EDGETAM_FAMILY,)),
    _Section("memory_encoder.", "memory_encoder.", _MEMORY_ENCODER),
    _Section("spatial_perceiver.", "spatial_perceiver.", _SPATIAL_PERCEIVER, families=(_EDGETAM_FAMILY,)),
    _Section("obj_ptr_proj.", "object_pointer_proj.", _three_layer_mlp("^")),
    _Section("obj_ptr_tpos_proj.", "temporal_positional_encoding_projection_layer."),
    _Section("mask_downsample.", "mask_downsample."),
)

# Whole-key renames of the model's top-level parameters.
_TOP_LEVEL = {
    "maskmem_tpos_enc": "memory_temporal_positional_encoding",
    "no_mem_embed": "no_memory_embedding",
    "no_mem_pos_enc": "no_memory_positional_encoding",
    "no_obj_ptr": "no_object_pointer",
    "no_obj_embed_spatial": "occlusion_spatial_embedding_parameter",
}
_TOP_LEVEL_BACK = {hf: official for official, hf in _TOP_LEVEL.items()}


def _family(config_name: str) -> str:
    from sam2.configs import get_config

    return get_config(config_name).architecture


def _sections(family: str) -> List[_Section]:
    return [s for s in _SECTIONS if family in s.families]


def _rename(key: str, family: str, to_hf: bool) -> str:
    whole = _TOP_LEVEL if to_hf else _TOP_LEVEL_BACK
    if key in whole:
        return whole[key]
    for section in _sections(family):
        prefix, other = (section.official, section.hf) if to_hf else (section.hf, section.official)
        if key.startswith(prefix):
            rest = key[len(prefix):]
            for rename in (section.renames if to_hf else reversed(section.renames)):
                rest = rename.apply(rest, to_hf)
            return other + rest
    return key  # unknown keys pass through; the strict check against the model names them


# --------------------------------------------------------------------------------------------
# Tensors that transformers stores differently (merged, split or duplicated)
# --------------------------------------------------------------------------------------------

_POINT_EMBED = "prompt_encoder.point_embed"
_PROMPT_PE = "prompt_encoder.shared_embedding.positional_embedding"
_IMAGE_PE = "shared_image_embedding.positional_embedding"
_FUSED_KV = re.compile(r"^(spatial_perceiver\.layers\.\d+\.(?:cross|self)_attention)\.kv_proj_combined\.weight$")
_SPLIT_K = re.compile(r"^(spatial_perceiver\.layers\.\d+\.(?:cross|self)_attention)\.k_proj\.weight$")


def to_transformers_state_dict(state_dict: Mapping[str, torch.Tensor], config_name: str) -> StateDict:
    """Official state dict -> the one transformers' ``Sam2VideoModel`` / ``EdgeTamVideoModel`` holds."""
    family = _family(config_name)
    renamed = {_rename(k, family, to_hf=True): v for k, v in state_dict.items()}
    out: StateDict = {}
    points = sorted((k for k in renamed if k.startswith(_POINT_EMBED + ".")), key=lambda k: int(k.split(".")[2]))
    for key, value in renamed.items():
        fused = _FUSED_KV.match(key)
        if fused:
            k, v = value.chunk(2, dim=0)
            out[f"{fused.group(1)}.k_proj.weight"], out[f"{fused.group(1)}.v_proj.weight"] = k.clone(), v.clone()
        elif key not in points:
            out[key] = value
    if points:
        out[_POINT_EMBED + ".weight"] = torch.cat([renamed[k] for k in points], dim=0)
    if _PROMPT_PE in out:
        out[_IMAGE_PE] = out[_PROMPT_PE].clone()
    return out


def from_transformers_state_dict(state_dict: Mapping[str, torch.Tensor], config_name: str,
                                 source: str = "checkpoint") -> StateDict:
    """transformers' state dict -> the official one (the exact inverse of the function above)."""
    family = _family(config_name)
    sd = dict(state_dict)
    merged: StateDict = {}
    # One positional-encoding matrix serves both the prompt encoder and the image-wide dense
    # encoding in SAM 2; transformers keeps a copy for each. Different copies cannot be loaded.
    prompt_pe, image_pe = sd.pop(_PROMPT_PE, None), sd.pop(_IMAGE_PE, None)
    both = prompt_pe is not None and image_pe is not None
    if both and not prompt_pe.is_meta and not torch.equal(prompt_pe, image_pe):
        raise CheckpointError(
            f"{source}: {_PROMPT_PE} and {_IMAGE_PE} differ; SAM 2 uses one matrix for both, so this "
            "transformers checkpoint cannot be represented exactly"
        )
    if prompt_pe is not None or image_pe is not None:
        merged[_PROMPT_PE] = prompt_pe if prompt_pe is not None else image_pe
    points = sd.pop(_POINT_EMBED + ".weight", None)
    if points is not None:
        for i, row in enumerate(points.split(1, dim=0)):
            merged[f"{_POINT_EMBED}.{i}.weight"] = row.clone()
    for key in list(sd):
        split = _SPLIT_K.match(key)
        v_key = split and f"{split.group(1)}.v_proj.weight"
        if split and v_key in sd:
            merged[f"{split.group(1)}.kv_proj_combined.weight"] = torch.cat([sd.pop(key), sd.pop(v_key)], dim=0)
    merged.update(sd)
    return {_rename(k, family, to_hf=False): v for k, v in merged.items()}


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
    from sam2.configs import CONFIGS

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
        family = "sam2.1" if _TOP_LEVEL["no_obj_embed_spatial"] in weight_keys or not weight_keys else "sam2"
    for name, cfg in CONFIGS.items():
        if cfg.family == family and cfg.trunk.stages == stages and cfg.trunk.embed_dim == hidden:
            return name
    raise CheckpointError(
        f"{source} describes a Hiera image encoder (blocks per stage {list(stages)}, width {hidden}) "
        "that matches none of the official SAM 2 sizes (tiny, small, base+, large)"
    )


def transformers_config(config_name: str) -> dict:
    """A ``config.json`` for ``config_name`` with the fields transformers needs to build the model."""
    if _family(config_name) == _EDGETAM_FAMILY:
        backbone = {"model_type": "timm_wrapper", "architecture": "repvit_m1.dist_in1k",
                    "model_args": {"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]}}
        return {"architectures": ["EdgeTamVideoModel"], "model_type": "edgetam_video",
                "enable_occlusion_spatial_embedding": False,
                "enable_temporal_pos_encoding_for_object_pointers": False,
                "vision_config": {"model_type": "edgetam_vision_model", "backbone_config": backbone,
                                  "backbone_channel_list": [384, 192, 96, 48]}}
    from sam2.configs import get_config

    cfg = get_config(config_name)
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
        from safetensors import safe_open

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


def _weight_files(path: str, folder: str) -> List[str]:
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
    from sam2.checkpoint import read_state_dict

    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    files = _weight_files(path, folder)
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
    return name, from_transformers_state_dict(hf_state, name, source=source)


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
    from safetensors.torch import save_file

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    hf_state = {k: v.contiguous() for k, v in to_transformers_state_dict(state_dict, config_name).items()}
    save_file(hf_state, os.path.join(folder, WEIGHTS_NAME), metadata={"format": "pt"})
    with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as f:
        json.dump(transformers_config(config_name), f, indent=2)
    return folder


def download_transformers_checkpoint(repo_id: str, **hub_kwargs) -> str:
    """Fetch (or find in the local Hugging Face cache) the transformers-layout checkpoint of a
    Hub repo; returns the local folder, to pass as ``ckpt_path``::

        build_sam2("sam2.1_hiera_t", download_transformers_checkpoint("facebook/sam2.1-hiera-tiny"))

    ``hub_kwargs`` go to ``hf_hub_download`` (``revision``, ``cache_dir``, ``local_files_only``...).
    """
    from sam2.hub import HubDownloadError

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
        for shard in _weight_files(index, folder):
            fetch(os.path.basename(shard))
    return folder

