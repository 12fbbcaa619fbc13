"""The eight official SAM 2 / SAM 2.1 model configurations as plain typed dataclasses.

Besides the eight SAM 2 / SAM 2.1 models there is EdgeTAM (facebookresearch/EdgeTAM), SAM 2
with a RepViT-M1 image trunk and a spatial perceiver that compresses each memory frame.

The reference describes its models in hydra YAML files. The numbers in those files are
all this module keeps: a frozen dataclass per model, so that a configuration can be read,
compared and overridden with ``dataclasses.replace`` without any config framework.

Names are accepted in every spelling the official package accepts
(``"configs/sam2.1/sam2.1_hiera_l.yaml"``, ``"sam2.1_hiera_l.yaml"``, ``"sam2.1_hiera_l"``)
and as Hugging Face model ids (``"facebook/sam2.1-hiera-large"``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Tuple, Union


@dataclass(frozen=True)
class HieraConfig:
    """The Hiera image trunk (hierarchical ViT with query pooling between stages)."""

    embed_dim: int
    num_heads: int
    stages: Tuple[int, ...]
    global_att_blocks: Tuple[int, ...]
    window_pos_embed_bkg_spatial_size: Tuple[int, int] = (14, 14)
    window_spec: Tuple[int, ...] = (8, 4, 14, 7)
    q_pool: int = 3
    q_stride: Tuple[int, int] = (2, 2)
    dim_mul: float = 2.0
    head_mul: float = 2.0
    mlp_ratio: float = 4.0

    @property
    def channel_list(self) -> Tuple[int, ...]:
        """Output channels per stage, lowest resolution first (as the FPN neck wants them)."""
        dims = [int(self.embed_dim * self.dim_mul**i) for i in range(len(self.stages))]
        return tuple(reversed(dims))


@dataclass(frozen=True)
class RepViTConfig:
    """The RepViT image trunk (timm's ``repvit_m1``, a mobile CNN) that EdgeTAM uses.

    ``embed_dims``/``depths`` per stage; every stage but the first starts with a stride-2
    downsampling block. Squeeze-excitation sits on every other block of a stage.
    """

    embed_dims: Tuple[int, ...] = (48, 96, 192, 384)
    depths: Tuple[int, ...] = (2, 2, 14, 2)
    mlp_ratio: int = 2
    kernel_size: int = 3
    se_ratio: float = 0.25

    @property
    def channel_list(self) -> Tuple[int, ...]:
        """Output channels per stage, lowest resolution first (as the FPN neck wants them)."""
        return tuple(reversed(self.embed_dims))


@dataclass(frozen=True)
class SpatialPerceiverConfig:
    """EdgeTAM's memory compressor: ``num_latents`` global latents read the whole memory
    frame, ``num_latents_2d`` local latents each read one window of a square grid."""

    dim: int = 64
    depth: int = 2
    dim_head: int = 64
    heads: int = 1
    ff_mult: int = 4
    num_latents: int = 256
    num_latents_2d: int = 256


@dataclass(frozen=True)
class MemoryAttentionConfig:
    """Memory attention: RoPE self-attention on the frame, RoPE cross-attention to memories."""

    d_model: int = 256
    num_layers: int = 4
    dim_feedforward: int = 2048
    num_heads: int = 1
    rope_theta: float = 10000.0
    feat_sizes: Tuple[int, int] = (64, 64)
    kv_in_dim: int = 64
    pos_enc_at_input: bool = True
    pos_enc_at_attn: bool = False
    pos_enc_at_cross_attn_keys: bool = True
    pos_enc_at_cross_attn_queries: bool = False
    # Compressed memories (EdgeTAM): each memory frame is ``memory_unrotated_tokens`` tokens
    # without a position (the perceiver's global latents) followed by a ``memory_grid``
    # grid of tokens, rotated with that grid's RoPE. None: memories are query-sized grids.
    memory_grid: Optional[Tuple[int, int]] = None
    memory_unrotated_tokens: int = 0


@dataclass(frozen=True)
class MemoryEncoderConfig:
    """Memory encoder: mask downsampler, ConvNeXt-style fuser, 64-channel output."""

    in_dim: int = 256
    out_dim: int = 64
    downsampler_kernel_size: int = 3
    downsampler_stride: int = 2
    downsampler_padding: int = 1
    downsampler_total_stride: int = 16
    fuser_num_layers: int = 2
    fuser_kernel_size: int = 7
    fuser_padding: int = 3


@dataclass(frozen=True)
class MaskDecoderOptions:
    """Mask-decoder switches that ``apply_postprocessing`` turns on (dynamic multimask)."""

    dynamic_multimask_via_stability: bool = False
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98


@dataclass(frozen=True)
class SAM2Config:
    """Everything needed to build one SAM 2 model (the ``model:`` block of an official YAML)."""

    name: str
    trunk: Union[HieraConfig, RepViTConfig]
    d_model: int = 256
    fpn_top_down_levels: Tuple[int, ...] = (2, 3)
    fpn_interp_model: str = "nearest"
    scalp: int = 1
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    mask_decoder: MaskDecoderOptions = field(default_factory=MaskDecoderOptions)
    num_maskmem: int = 7
    image_size: int = 1024
    backbone_stride: int = 16
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    binarize_mask_from_pts_for_mem_enc: bool = False
    use_mask_input_as_output_without_sam: bool = True
    max_cond_frames_in_attn: int = -1
    directly_add_no_mem_embed: bool = True
    use_high_res_features_in_sam: bool = True
    multimask_output_in_sam: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    iou_prediction_use_sigmoid: bool = True
    memory_temporal_stride_for_eval: int = 1
    non_overlap_masks_for_mem_enc: bool = False
    use_obj_ptrs_in_encoder: bool = True
    max_obj_ptrs_in_encoder: int = 16
    add_tpos_enc_to_obj_ptrs: bool = True
    proj_tpos_enc_in_obj_ptrs: bool = False
    use_signed_tpos_enc_to_obj_ptrs: bool = False
    only_obj_ptrs_in_the_past_for_eval: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    use_mlp_for_obj_ptr_proj: bool = True
    no_obj_embed_spatial: bool = False
    # EdgeTAM's memory compressor (None for SAM 2).
    spatial_perceiver: Optional[SpatialPerceiverConfig] = None
    # Video-only post-processing (on with ``apply_postprocessing`` in the video builder).
    fill_hole_area: int = 0

    @property
    def family(self) -> str:
        if self.name.startswith("edgetam"):
            return "edgetam"
        return "sam2.1" if self.name.startswith("sam2.1") else "sam2"

    @property
    def architecture(self) -> str:
        """``"edgetam"`` or ``"sam2"``: which module tree (and checkpoint layout) it builds."""
        return "edgetam" if isinstance(self.trunk, RepViTConfig) else "sam2"


_TRUNKS: Dict[str, HieraConfig] = {
    "t": HieraConfig(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2), global_att_blocks=(5, 7, 9),
                     window_pos_embed_bkg_spatial_size=(7, 7)),
    "s": HieraConfig(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2), global_att_blocks=(7, 10, 13),
                     window_pos_embed_bkg_spatial_size=(7, 7)),
    "b+": HieraConfig(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3), global_att_blocks=(12, 16, 20)),
    "l": HieraConfig(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4), global_att_blocks=(23, 33, 43),
                     window_pos_embed_bkg_spatial_size=(7, 7), window_spec=(8, 4, 16, 8)),
}

# SAM 2.1 differs from SAM 2 only in how object pointers get their temporal encoding and
# in a learned "no object" embedding added to spatial memories.
_FAMILY_OPTIONS = {
    "sam2": dict(add_tpos_enc_to_obj_ptrs=False),
    "sam2.1": dict(add_tpos_enc_to_obj_ptrs=True, proj_tpos_enc_in_obj_ptrs=True,
                   use_signed_tpos_enc_to_obj_ptrs=True, no_obj_embed_spatial=True),
}

CONFIGS: Dict[str, SAM2Config] = {
    f"{family}_hiera_{size}": SAM2Config(name=f"{family}_hiera_{size}", trunk=trunk, **opts)
    for family, opts in _FAMILY_OPTIONS.items()
    for size, trunk in _TRUNKS.items()
}

# EdgeTAM (configs/edgetam.yaml of facebookresearch/EdgeTAM): SAM 2-style options (no
# temporal encoding of object pointers), a 2-layer memory attention whose cross-attention
# reads 512 compressed tokens per memory frame (256 global latents without a position and
# a 16 x 16 grid of local ones).
CONFIGS["edgetam"] = SAM2Config(
    name="edgetam",
    trunk=RepViTConfig(),
    memory_attention=MemoryAttentionConfig(num_layers=2, memory_grid=(16, 16), memory_unrotated_tokens=256),
    spatial_perceiver=SpatialPerceiverConfig(),
    **_FAMILY_OPTIONS["sam2"],
)

_SIZE_WORDS = {"t": "tiny", "s": "small", "b+": "base_plus", "l": "large"}

# Official Hugging Face model id -> (config name, checkpoint file name in that repo).
HF_MODELS: Dict[str, Tuple[str, str]] = {
    f"facebook/{family}-hiera-{_SIZE_WORDS[size].replace('_', '-')}": (
        f"{family}_hiera_{size}",
        f"{family}_hiera_{_SIZE_WORDS[size]}.pt",
    )
    for family in _FAMILY_OPTIONS
    for size in _TRUNKS
}
HF_MODELS["facebook/EdgeTAM"] = ("edgetam", "edgetam.pt")


# The one place that tells the two architectures apart by their state-dict keys.
_ARCHITECTURE_MARKERS = {
    "edgetam": ("image_encoder.trunk.body.", "spatial_perceiver."),
    "sam2": ("image_encoder.trunk.blocks.", "image_encoder.trunk.patch_embed."),
}
_ARCHITECTURE_NAMES = {"edgetam": "EdgeTAM", "sam2": "SAM 2 / SAM 2.1 (Hiera)"}


def architecture_of_keys(keys: Iterable[str]) -> Optional[str]:
    """``"edgetam"``, ``"sam2"`` or None: which architecture a checkpoint's keys belong to."""
    keys = list(keys)
    for arch, prefixes in _ARCHITECTURE_MARKERS.items():
        if any(k.startswith(prefixes) for k in keys):
            return arch
    return None


def architecture_name(arch: Optional[str]) -> str:
    """A human name for an ``architecture`` value, for error messages."""
    return _ARCHITECTURE_NAMES.get(arch, "an unknown model")


def config_name(name: str) -> str:
    """Normalise any accepted spelling of a model name to a key of ``CONFIGS``.

    Accepts official config paths (``configs/sam2.1/sam2.1_hiera_l.yaml``), bare YAML
    names, bare config names, Hugging Face ids and checkpoint file names
    (``sam2.1_hiera_large.pt``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"model config must be a non-empty string, got {name!r}")
    if name in HF_MODELS:
        return HF_MODELS[name][0]
    base = os.path.basename(name)
    for suffix in (".yaml", ".yml", ".pt", ".safetensors"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base in CONFIGS:
        return base
    if base.lower() == "edgetam":  # also "EdgeTAM"
        return "edgetam"
    for cfg_name, (_, file_name) in ((v[0], v) for v in HF_MODELS.values()):
        if base == file_name[: -len(".pt")]:
            return cfg_name
    known = ", ".join(sorted(CONFIGS))
    raise ValueError(
        f"unknown SAM 2 model config {name!r}; expected one of {known} "
        f"(optionally as 'configs/<family>/<name>.yaml' or 'configs/edgetam.yaml') or a Hugging "
        f"Face id such as 'facebook/sam2.1-hiera-large' or 'facebook/EdgeTAM'"
    )


def get_config(name: str, **overrides) -> SAM2Config:
    """The configuration for ``name`` (any accepted spelling), with fields overridden."""
    cfg = CONFIGS[config_name(name)]
    return dataclasses.replace(cfg, **overrides) if overrides else cfg
