"""SAM2Base: every learned part of SAM 2 under its official state-dict name, plus the
image path (encode an image, run the prompt encoder and mask decoder on it).

The tracking logic (memory attention over past frames, memory encoding, object
pointers) lives in ``sam2.modeling.tracker.SAM2Tracker``, a subclass; the image predictor
needs only this class, but the module tree here is complete so that an official checkpoint
loads strictly into either.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import SAM2Config
from sam2.modeling.common import MLP
from sam2.modeling.image_encoder import ImageEncoder
from sam2.modeling.mask_decoder import MaskDecoder
from sam2.modeling.memory_attention import MemoryAttention
from sam2.modeling.memory_encoder import MemoryEncoder
from sam2.modeling.perceiver import SpatialPerceiver
from sam2.modeling.prompt_encoder import PromptEncoder

# Logit given to every pixel of an object that is absent from a frame.
NO_OBJ_SCORE = -1024.0


def to_sequence(features: torch.Tensor) -> torch.Tensor:
    """B x C x H x W map -> (HW) x B x C token sequence (a view), as the tracker keeps features.

    A memory already compressed to tokens (EdgeTAM's perceiver output, B x N x C) becomes
    N x B x C the same way.
    """
    if features.dim() == 3:
        return features.transpose(0, 1)
    return features.flatten(2).permute(2, 0, 1)


class SamHeadsOutput(NamedTuple):
    """What one pass of the prompt encoder + mask decoder produces for a batch of objects."""

    low_res_multimasks: torch.Tensor  # B x M x 256 x 256 logits
    ious: torch.Tensor  # B x M
    low_res_masks: torch.Tensor  # B x 1 x 256 x 256, the best of the M
    high_res_masks: torch.Tensor  # B x 1 x 1024 x 1024
    obj_ptr: torch.Tensor  # B x C object pointer
    object_score_logits: torch.Tensor  # B x 1, > 0 means the object is visible


def _trunc_normal_param(*shape: int) -> nn.Parameter:
    p = nn.Parameter(torch.zeros(*shape))
    nn.init.trunc_normal_(p, std=0.02)
    return p


class SAM2Base(nn.Module):
    def __init__(self, config: SAM2Config) -> None:
        super().__init__()
        self.config = config
        # Every option of the config is also a plain attribute, as in the official model,
        # so code written against the reference keeps working (model.num_maskmem, ...).
        for name in config.__dataclass_fields__:
            if name not in ("name", "trunk", "memory_attention", "memory_encoder", "mask_decoder"):
                setattr(self, name, getattr(config, name))
        self.image_encoder = ImageEncoder(config)
        self.num_feature_levels = 3 if config.use_high_res_features_in_sam else 1
        self.hidden_dim = config.d_model
        self.memory_attention = MemoryAttention(config.memory_attention)
        self.memory_encoder = MemoryEncoder(config.memory_encoder)
        self.mem_dim = config.memory_encoder.out_dim

        if config.use_obj_ptrs_in_encoder:
            # Brings a full-resolution mask prompt down to the 256x256 logit grid.
            self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.maskmem_tpos_enc = _trunc_normal_param(config.num_maskmem, 1, 1, self.mem_dim)
        self.no_mem_embed = _trunc_normal_param(1, 1, self.hidden_dim)
        self.no_mem_pos_enc = _trunc_normal_param(1, 1, self.hidden_dim)
        if config.pred_obj_scores and config.use_obj_ptrs_in_encoder:
            self.no_obj_ptr = _trunc_normal_param(1, self.hidden_dim)
        self.no_obj_embed_spatial = _trunc_normal_param(1, self.mem_dim) if config.no_obj_embed_spatial else None
        # EdgeTAM: compresses every new memory frame to a few hundred tokens
        self.spatial_perceiver = SpatialPerceiver(config.spatial_perceiver) if config.spatial_perceiver else None

        self.sam_prompt_embed_dim = self.hidden_dim
        self.sam_image_embedding_size = config.image_size // config.backbone_stride
        grid = self.sam_image_embedding_size
        self.sam_prompt_encoder = PromptEncoder(
            self.hidden_dim, (grid, grid), (config.image_size, config.image_size), mask_in_chans=16
        )
        self.sam_mask_decoder = MaskDecoder(
            transformer_dim=self.hidden_dim,
            use_high_res_features=config.use_high_res_features_in_sam,
            iou_prediction_use_sigmoid=config.iou_prediction_use_sigmoid,
            pred_obj_scores=config.pred_obj_scores,
            pred_obj_scores_mlp=config.pred_obj_scores_mlp,
            use_multimask_token_for_obj_ptr=config.use_multimask_token_for_obj_ptr,
            options=config.mask_decoder,
        )
        if config.use_obj_ptrs_in_encoder:
            self.obj_ptr_proj = (
                MLP(self.hidden_dim, self.hidden_dim, self.hidden_dim, 3)
                if config.use_mlp_for_obj_ptr_proj
                else nn.Linear(self.hidden_dim, self.hidden_dim)
            )
        else:
            self.obj_ptr_proj = nn.Identity()
        self.obj_ptr_tpos_proj = (
            nn.Linear(self.hidden_dim, self.mem_dim) if config.proj_tpos_enc_in_obj_ptrs else nn.Identity()
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype of the heavy computations (see ``set_compute_dtype``)."""
        return self.memory_attention.norm.weight.dtype  # the image encoder may stay float32

    @property
    def _encoder_keeps_float32(self) -> bool:
        """EdgeTAM's CNN trunk stays float32 in fast mode (see sam2/modeling/repvit.py), and
        so does the neck after it: rounding the trunk's maps (up to 1e6 on the parity
        weights) to bfloat16 there was all of the image embedding's fast-mode error (3e-3
        relative), for 1 ms of the neck's time. The image embedding is then exact."""
        return bool(getattr(self.image_encoder.trunk, "keeps_float32", False))

    def set_compute_dtype(self, dtype: torch.dtype) -> "SAM2Base":
        """Run the heavy parts in ``dtype`` (float32 = exact, or bfloat16); outputs stay float32.

        Three parts hold nearly all the FLOPs: the image encoder (EdgeTAM's stays float32,
        see ``_encoder_keeps_float32``) and, when tracking, the memory attention (both run in
        ``dtype``; norms, softmax and RoPE accumulate in
        float32 inside, and their outputs are float32 again); and, per click, the mask
        decoder's products with the 4096 image tokens and its upscaling GEMMs (in ``dtype``;
        its softmaxes, norms and token-side layers stay float32). When tracking, the memory
        encoder's channel MLPs run in ``dtype`` too (the rest of it stays float32).
        """
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"unsupported compute dtype {dtype}")
        if not self._encoder_keeps_float32:
            self.image_encoder.to(dtype)
        # exact (float32): the image encoder's arithmetic is the reference's, operation for
        # operation (see sam2/modeling/repvit.py); fast mode may fold and compose layers
        exact = dtype == torch.float32
        if hasattr(self.image_encoder.trunk, "fold_batchnorm"):
            self.image_encoder.trunk.fold_batchnorm(not exact)
        self.image_encoder.neck.compose_level_heads = not exact
        self.memory_attention.to(dtype)
        self.memory_encoder.set_matmul_dtype(dtype)
        self.sam_mask_decoder.set_matmul_dtype(dtype)
        for module in self.memory_attention.modules():
            if hasattr(module, "attention_dtype"):
                module.attention_dtype = dtype
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "SAM2 models are used through SAM2ImagePredictor, SAM2AutomaticMaskGenerator or "
            "SAM2VideoPredictor, not called directly"
        )

    # ----------------------------------------------------------------- image features
    def forward_image(self, img_batch: torch.Tensor) -> Dict[str, object]:
        """Encode a B x 3 x 1024 x 1024 normalised batch.

        The two high-resolution FPN levels come out already projected by the decoder's 1x1
        convolutions (conv_s0/conv_s1), once per image, since every prompt reuses them (the
        neck composes each with its lateral convolution, see ``FpnNeck.forward``).
        """
        dtype = self.compute_dtype
        heads = None
        if self.use_high_res_features_in_sam:
            heads = {0: self.sam_mask_decoder.conv_s0, 1: self.sam_mask_decoder.conv_s1}
        encoder_dtype = torch.float32 if self._encoder_keeps_float32 else dtype
        out = self.image_encoder(img_batch.to(encoder_dtype), level_heads=heads)
        if encoder_dtype != torch.float32:
            out = {
                "vision_features": out["vision_features"].float(),
                "vision_pos_enc": [p.float() for p in out["vision_pos_enc"]],
                "backbone_fpn": [f.float() for f in out["backbone_fpn"]],
            }
        return out

    def _prepare_backbone_features(self, backbone_out: Dict[str, object]):
        """Flatten the last ``num_feature_levels`` maps to (HW) x B x C sequences."""
        backbone_out = dict(backbone_out)
        maps = backbone_out["backbone_fpn"][-self.num_feature_levels:]
        pos = backbone_out["vision_pos_enc"][-self.num_feature_levels:]
        feat_sizes = [(p.shape[-2], p.shape[-1]) for p in pos]
        vision_feats = [to_sequence(m) for m in maps]
        vision_pos_embeds = [to_sequence(p) for p in pos]
        return backbone_out, vision_feats, vision_pos_embeds, feat_sizes

    # ------------------------------------------------------------------- SAM heads
    def _forward_sam_heads(
        self,
        backbone_features: torch.Tensor,
        point_inputs: Optional[Dict[str, torch.Tensor]] = None,
        mask_inputs: Optional[torch.Tensor] = None,
        high_res_features: Optional[List[torch.Tensor]] = None,
        multimask_output: bool = False,
    ) -> SamHeadsOutput:
        """Prompt encoder + mask decoder on already-batched image features (one per object).

        ``point_inputs`` holds ``point_coords`` (B x P x 2, in 1024-space pixels) and
        ``point_labels`` (B x P); ``mask_inputs`` is B x 1 x H x W (resized to 256x256).
        """
        batch = backbone_features.shape[0]
        device = backbone_features.device
        if point_inputs is not None:
            coords, labels = point_inputs["point_coords"], point_inputs["point_labels"]
        else:  # one padding point, label -1
            coords = torch.zeros(batch, 1, 2, device=device)
            labels = -torch.ones(batch, 1, dtype=torch.int32, device=device)

        mask_prompt = None
        if mask_inputs is not None:
            if mask_inputs.shape[-2:] != self.sam_prompt_encoder.mask_input_size:
                mask_prompt = F.interpolate(
                    mask_inputs.float(), size=self.sam_prompt_encoder.mask_input_size,
                    mode="bilinear", align_corners=False, antialias=True,
                )
            else:
                mask_prompt = mask_inputs

        sparse, dense = self.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=mask_prompt)
        low_res_multimasks, ious, sam_tokens, object_score_logits = self.sam_mask_decoder(
            image_embeddings=backbone_features,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        if self.pred_obj_scores:
            visible = object_score_logits > 0
            low_res_multimasks = torch.where(visible[:, None, None], low_res_multimasks, NO_OBJ_SCORE)
        low_res_multimasks = low_res_multimasks.float()

        token = sam_tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(batch, device=device)
            low_res_masks = low_res_multimasks[rows, best].unsqueeze(1)
            if sam_tokens.shape[1] > 1:
                token = sam_tokens[rows, best]
        else:
            low_res_masks = low_res_multimasks
        # Only the chosen mask is upsampled (the reference upsamples all M and then picks):
        # the interpolation works mask by mask, so the numbers are the same, for a third of
        # the work (2 ms per tracked frame and object on a 2-core CPU).
        high_res_masks = F.interpolate(
            low_res_masks, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )

        obj_ptr = self.obj_ptr_proj(token)
        if self.pred_obj_scores:
            weight = object_score_logits.sigmoid() if self.soft_no_obj_ptr else visible.float()
            obj_ptr = self._blend_no_obj_ptr(obj_ptr, weight)
        return SamHeadsOutput(low_res_multimasks, ious, low_res_masks, high_res_masks,
                              obj_ptr, object_score_logits)

    def _blend_no_obj_ptr(self, obj_ptr: torch.Tensor, visible_weight: torch.Tensor) -> torch.Tensor:
        """Replace (or offset) the pointer of an invisible object by the learned no-object one."""
        if self.fixed_no_obj_ptr:
            obj_ptr = visible_weight * obj_ptr
        return obj_ptr + (1 - visible_weight) * self.no_obj_ptr

    def _use_mask_as_output(
        self,
        backbone_features: torch.Tensor,
        high_res_features: Optional[List[torch.Tensor]],
        mask_inputs: torch.Tensor,
    ) -> SamHeadsOutput:
        """Turn a binary mask prompt directly into output logits (+/-10), without decoding it.

        The object pointer still comes from the decoder, fed the mask downsampled to 256x256.
        """
        scale, bias = 20.0, -10.0
        mask_float = mask_inputs.float()
        high_res = mask_float * scale + bias
        low_res = F.interpolate(
            high_res, size=(high_res.shape[-2] // 4, high_res.shape[-1] // 4),
            mode="bilinear", align_corners=False, antialias=True,
        )
        ious = mask_inputs.new_ones(mask_inputs.shape[0], 1).float()
        if self.use_obj_ptrs_in_encoder:
            obj_ptr = self._forward_sam_heads(
                backbone_features, mask_inputs=self.mask_downsample(mask_float),
                high_res_features=high_res_features,
            ).obj_ptr
        else:
            obj_ptr = torch.zeros(mask_inputs.shape[0], self.hidden_dim, device=mask_inputs.device)
        visible = torch.any(mask_inputs.flatten(1).float() > 0.0, dim=1)[..., None].float()
        object_score_logits = scale * visible + bias
        if self.pred_obj_scores:
            obj_ptr = self._blend_no_obj_ptr(obj_ptr, visible)
        return SamHeadsOutput(low_res, ious, low_res, high_res, obj_ptr, object_score_logits)
