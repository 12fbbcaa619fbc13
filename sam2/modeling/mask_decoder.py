"""SAM's mask decoder: output tokens + prompt tokens + image features -> masks and scores.

Output tokens: [object-score token,] IoU token, then four mask tokens (token 0 for the
single-mask answer, tokens 1-3 for the three multimask candidates). After the two-way
transformer, each mask token becomes a hypernetwork vector that is dotted with the 4x
upsampled image features (fused with the stride-4 and stride-8 backbone features).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import MaskDecoderOptions
from sam2.modeling.common import MLP, LayerNorm2d, activate_in_place, stability_scores
from sam2.modeling.transformer import ProjectedImage, TwoWayTransformer


class DecoderOutput(NamedTuple):
    masks: torch.Tensor  # B x M x 4h x 4w logits
    iou_pred: torch.Tensor  # B x M
    sam_tokens_out: torch.Tensor  # B x M' x C (tokens the object pointer is built from)
    object_score_logits: torch.Tensor  # B x 1


@dataclass(frozen=True)
class UpscalingSkips:
    """What the two upscaling steps add to their GEMM outputs, in those outputs' row order.

    Each 2x2-kernel, stride-2 transposed convolution is one GEMM whose output row for input
    pixel (i, j) holds the 2x2 block of output pixels it writes. The decoder keeps that
    "sub-pixel" order through both steps instead of reshuffling to image order after each
    (the reshuffles cost more than the GEMMs' own bias and skip adds): the stride-8 and
    stride-4 backbone features are permuted once into that order, with the convolution
    biases folded in, and only the final masks (a few channels) are put back in image order.
    """

    after_up1: torch.Tensor  # B x hw x 4*C1: conv bias + stride-8 features
    after_up2: torch.Tensor  # B x 4hw x 4*C2: conv bias + stride-4 features


class MaskDecoder(nn.Module):
    def __init__(
        self,
        transformer_dim: int = 256,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = True,
        iou_prediction_use_sigmoid: bool = True,
        pred_obj_scores: bool = True,
        pred_obj_scores_mlp: bool = True,
        use_multimask_token_for_obj_ptr: bool = True,
        options: MaskDecoderOptions = MaskDecoderOptions(),
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = TwoWayTransformer(depth=2, embedding_dim=transformer_dim, num_heads=8, mlp_dim=2048)
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, transformer_dim)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr

        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(transformer_dim, transformer_dim // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(transformer_dim, transformer_dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth,
            sigmoid_output=iou_prediction_use_sigmoid,
        )
        if pred_obj_scores:
            self.pred_obj_score_head = (
                MLP(transformer_dim, transformer_dim, 1, 3) if pred_obj_scores_mlp else nn.Linear(transformer_dim, 1)
            )
        self.dynamic_multimask_via_stability = options.dynamic_multimask_via_stability
        self.dynamic_multimask_stability_delta = options.dynamic_multimask_stability_delta
        self.dynamic_multimask_stability_thresh = options.dynamic_multimask_stability_thresh
        self.matmul_dtype = torch.float32  # of the upscaling GEMMs (bfloat16 in fast precision)
        # On the CPU a batch of prompts is decoded a few at a time: the per-prompt tensors
        # (4096 x 256 tokens, 65536 x 32 mask features) then stay in cache, which makes a
        # prompt ~2x cheaper than in one big batch (16.7 vs 36 ms each for 64 prompts).
        self.cpu_prompts_per_pass = 1

    def set_matmul_dtype(self, dtype: torch.dtype) -> None:
        """Run the decoder's products with the 4096 image tokens (and the upscaling) in ``dtype``."""
        self.matmul_dtype = dtype
        for module in self.transformer.modules():
            if hasattr(module, "matmul_dtype"):
                module.matmul_dtype = dtype

    def project_image(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                      dense_prompt_embeddings: torch.Tensor) -> ProjectedImage:
        """What every prompt on this image (1 x C x h x w) with these dense prompt embeddings
        (usually the "no mask" embedding) shares; pass it to ``forward`` as ``projected``."""
        return self.transformer.project_image(image_embeddings + dense_prompt_embeddings, image_pe)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: Optional[torch.Tensor],
        multimask_output: bool,
        repeat_image: bool,
        high_res_features: Optional[List[torch.Tensor]] = None,
        projected: Optional[ProjectedImage] = None,
        skips: Optional[UpscalingSkips] = None,
    ) -> DecoderOutput:
        """Masks and scores for B prompts.

        ``projected`` (from ``project_image`` on the same image and dense embeddings) skips
        the image-only part of the work; ``image_embeddings`` and ``dense_prompt_embeddings``
        are then not read, and all B prompts are on that image. ``skips`` (from
        ``prepare_skips``) likewise replaces ``high_res_features``.
        """
        batch = sparse_prompt_embeddings.shape[0]
        step = batch if sparse_prompt_embeddings.device.type != "cpu" else self.cpu_prompts_per_pass
        parts = []
        for start in range(0, batch, step):
            rows = functools.partial(_prompt_rows, rows=slice(start, start + step), batch=batch)
            parts.append(self.predict_masks(
                rows(image_embeddings), image_pe, rows(sparse_prompt_embeddings), rows(dense_prompt_embeddings),
                repeat_image, None if high_res_features is None else [rows(f) for f in high_res_features],
                projected, None if skips is None else UpscalingSkips(rows(skips.after_up1), rows(skips.after_up2)),
            ))
        masks, iou_pred, mask_tokens_out, object_score_logits = (
            parts[0] if len(parts) == 1 else [torch.cat(outputs) for outputs in zip(*parts)]
        )
        if multimask_output:
            masks, iou_pred = masks[:, 1:], iou_pred[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou_pred = self._pick_stable_single_mask(masks, iou_pred)
        else:
            masks, iou_pred = masks[:, 0:1], iou_pred[:, 0:1]
        if multimask_output and self.use_multimask_token_for_obj_ptr:
            sam_tokens_out = mask_tokens_out[:, 1:]
        else:
            sam_tokens_out = mask_tokens_out[:, 0:1]
        return DecoderOutput(masks, iou_pred, sam_tokens_out, object_score_logits)

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        repeat_image: bool,
        high_res_features: Optional[List[torch.Tensor]] = None,
        projected: Optional[ProjectedImage] = None,
        skips: Optional[UpscalingSkips] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All four masks and scores, before choosing single- or multi-mask output."""
        heads = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            heads.insert(0, self.obj_score_token.weight)
        first = 1 if self.pred_obj_scores else 0
        batch = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat(heads, dim=0).unsqueeze(0).expand(batch, -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        h, w = image_pe.shape[-2:]
        if projected is not None:
            src = None
        elif repeat_image:
            src = torch.repeat_interleave(image_embeddings, batch, dim=0) + dense_prompt_embeddings
        else:
            if image_embeddings.shape[0] != batch:
                raise ValueError("image and prompt batch sizes differ")
            src = image_embeddings + dense_prompt_embeddings

        # image_pe (1 x C x h x w) is the same for every prompt: broadcast, not repeated
        hs, src = self.transformer(src, image_pe, tokens, projected=projected)
        iou_token_out = hs[:, first, :]
        mask_tokens_out = hs[:, first + 1: first + 1 + self.num_mask_tokens, :]

        if skips is None:
            skips = self.prepare_skips(high_res_features, h, w)
        upscaled = self._upscale(src, skips)  # B x 16hw x C/8, sub-pixel order
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        masks = _subpixel_to_image(hyper_in @ upscaled.transpose(1, 2), h, w)
        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0, :])
        else:
            object_score_logits = 10.0 * iou_pred.new_ones(iou_pred.shape[0], 1)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def prepare_skips(self, high_res_features: Optional[Sequence[torch.Tensor]], h: int, w: int) -> UpscalingSkips:
        """The upscaling's bias + skip terms for B x C1 x 2h x 2w and B x C2 x 4h x 4w features
        (``high_res_features`` = [stride-4, stride-8] maps), or the biases alone without them."""
        up1, _, _, up2, _ = self.output_upscaling
        bias1 = up1.bias.repeat(4)  # columns ordered (dy, dx, channel)
        bias2 = up2.bias.repeat(4)
        if not self.use_high_res_features:
            return UpscalingSkips(bias1.view(1, 1, -1), bias2.view(1, 1, -1))
        feat_s0, feat_s1 = high_res_features
        b, c1 = feat_s1.shape[:2]
        c2 = feat_s0.shape[1]
        # s1[c, 2i+dy, 2j+dx] -> row (i, j), column (dy, dx, c)
        s1 = feat_s1.reshape(b, c1, h, 2, w, 2).permute(0, 2, 4, 3, 5, 1).reshape(b, h * w, 4 * c1)
        # s0[c, 4i+2dy+ey, 4j+2dx+ex] -> row (i, j, dy, dx), column (ey, ex, c)
        s0 = feat_s0.reshape(b, c2, h, 2, 2, w, 2, 2).permute(0, 2, 5, 3, 6, 4, 7, 1).reshape(b, 4 * h * w, 4 * c2)
        return UpscalingSkips(s1 + bias1, s0 + bias2)

    def _upscale(self, tokens: torch.Tensor, skips: UpscalingSkips) -> torch.Tensor:
        """Image tokens (B x hw x C) -> B x 16hw x C/8 mask features, in sub-pixel row order
        (see ``UpscalingSkips``): two transposed convolutions as GEMMs that also add the
        skips, with layer norm and GELUs in between."""
        up1, norm1, act1, up2, act2 = self.output_upscaling
        b, n, c = tokens.shape
        w1 = up1.weight.permute(0, 2, 3, 1).reshape(c, -1)  # C x (dy, dx, C1)
        x = _gemm_add(skips.after_up1, tokens, w1, self.matmul_dtype).view(b, 4 * n, -1)
        x = activate_in_place(act1, F.layer_norm(x, (x.shape[-1],), norm1.weight, norm1.bias, norm1.eps))
        w2 = up2.weight.permute(0, 2, 3, 1).reshape(x.shape[-1], -1)
        x = _gemm_add(skips.after_up2, x, w2, self.matmul_dtype).view(b, 16 * n, -1)
        return activate_in_place(act2, x)

    def _pick_stable_single_mask(self, all_logits: torch.Tensor, all_iou: torch.Tensor):
        """Keep the single-mask answer if it is stable; otherwise the best multimask one.

        A single click is often ambiguous; token 0 then gives an unstable mask. Falling back
        to the highest-scoring candidate gives a valid mask for both clicking and tracking.
        """
        multi_logits, multi_iou = all_logits[:, 1:], all_iou[:, 1:]
        best = torch.argmax(multi_iou, dim=-1)
        rows = torch.arange(multi_iou.shape[0], device=all_iou.device)
        best_logits = multi_logits[rows, best].unsqueeze(1)
        best_iou = multi_iou[rows, best].unsqueeze(1)
        single_logits, single_iou = all_logits[:, 0:1], all_iou[:, 0:1]
        stable = stability_scores(single_logits, self.dynamic_multimask_stability_delta) >= (
            self.dynamic_multimask_stability_thresh
        )
        logits = torch.where(stable[..., None, None].expand_as(single_logits), single_logits, best_logits)
        iou = torch.where(stable.expand_as(single_iou), single_iou, best_iou)
        return logits, iou


def _prompt_rows(x: Optional[torch.Tensor], rows: slice, batch: int) -> Optional[torch.Tensor]:
    """``x[rows]`` for a per-prompt tensor (``batch`` rows); shared ones (one row) and None as is."""
    if x is None or x.shape[0] != batch:
        return x
    return x[rows]


def _gemm_add(addend: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """addend + x @ weight for x B x N x K, weight K x M, addend B or 1 x N x M (or 1 x 1 x M);
    the product in ``dtype``, the sum in float32."""
    if dtype != x.dtype:
        return addend + (x.to(dtype) @ weight.to(dtype))
    if x.shape[0] == 1:
        return torch.addmm(addend[0], x[0], weight).unsqueeze(0)
    return torch.baddbmm(addend, x, weight.expand(x.shape[0], -1, -1))


def _subpixel_to_image(masks: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """B x M x 16hw masks in sub-pixel order (i, j, dy, dx, ey, ex) -> B x M x 4h x 4w."""
    b, m = masks.shape[:2]
    blocks = masks.view(b, m, h, w, 2, 2, 2, 2)
    return blocks.permute(0, 1, 2, 4, 6, 3, 5, 7).reshape(b, m, 4 * h, 4 * w)
