"""The transformers checkpoint layout as a key table: official names <-> transformers' names.

The Hub repos ``facebook/sam2.1-hiera-*`` also hold the weights as transformers'
``Sam2VideoModel`` saved them, and ``yonigozlan/EdgeTAM-hf`` holds EdgeTAM as
``EdgeTamVideoModel``. Those files carry the same numbers as the official ``.pt`` under other
names (transformers' conversion scripts rename every module, merge the four point embeddings
into one matrix, split the perceiver's fused key/value projection and keep the prompt
encoder's random-Fourier matrix twice). This module is the exact two-way mapping between
the two layouts and nothing else: like timm's checkpoint filters it is pure data plus two
functions on state dicts, imports nothing of ``sam2`` and reads no file, so that the
checkpoint reader (``sam2.transformers_folder``) and anything else can use it without
import circles.

The mapping is one table (``_SECTIONS``): for each top-level module, the official and the
transformers prefix and a chain of renames inside it. Official -> transformers applies the
chain in order; the reverse applies it backwards, so the two directions cannot drift apart.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import torch

__all__ = ["ARCHITECTURES", "KeyMappingError", "TOP_LEVEL_KEYS", "from_transformers_state_dict",
           "to_transformers_state_dict"]

# Architecture families whose module names differ (EdgeTAM's memory attention names its MLP):
# the values of ``SAM2Config.architecture``, which says which architecture a config builds.
_SAM2_FAMILY, _EDGETAM_FAMILY = "sam2", "edgetam"
ARCHITECTURES = (_SAM2_FAMILY, _EDGETAM_FAMILY)

StateDict = Dict[str, torch.Tensor]


class KeyMappingError(ValueError):
    """A transformers state dict that has no exact official equivalent."""


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
#: The official top-level parameter names -> transformers' (read-only use outside this module).
TOP_LEVEL_KEYS: Mapping[str, str] = dict(_TOP_LEVEL)


def _check_architecture(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    return architecture


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


def to_transformers_state_dict(state_dict: Mapping[str, torch.Tensor], architecture: str) -> StateDict:
    """Official state dict -> the one transformers' ``Sam2VideoModel`` / ``EdgeTamVideoModel`` holds.

    ``architecture``: ``"sam2"`` or ``"edgetam"`` (``SAM2Config.architecture``)."""
    family = _check_architecture(architecture)
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


def from_transformers_state_dict(state_dict: Mapping[str, torch.Tensor], architecture: str,
                                 source: str = "checkpoint") -> StateDict:
    """transformers' state dict -> the official one (the exact inverse of the function above).

    Raises ``KeyMappingError`` when the file holds two different copies of the one matrix
    SAM 2 keeps (the positional encoding); ``source`` names the file in that message."""
    family = _check_architecture(architecture)
    sd = dict(state_dict)
    merged: StateDict = {}
    # One positional-encoding matrix serves both the prompt encoder and the image-wide dense
    # encoding in SAM 2; transformers keeps a copy for each. Different copies cannot be loaded.
    prompt_pe, image_pe = sd.pop(_PROMPT_PE, None), sd.pop(_IMAGE_PE, None)
    both = prompt_pe is not None and image_pe is not None
    if both and not prompt_pe.is_meta and not torch.equal(prompt_pe, image_pe):
        raise KeyMappingError(
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
