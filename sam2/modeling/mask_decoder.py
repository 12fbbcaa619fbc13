"""SAM's mask decoder: output tokens + prompt tokens + image features -> masks and scores.

Output tokens: [object-score token,] IoU token, then four mask tokens (token 0 for the
single-mask answer, tokens 1-3 for the three multimask candidates). After the two-way
transformer, each mask token becomes a hypernetwork vector that is dotted with the 4x
upsampled image features (fused with the stride-4 and stride-8 backbone features).
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import nn

from sam2.configs import MaskDecoderOptions
import torch.nn.functional as F

from sam2.modeling.common import MLP, LayerNorm2d, stability_scores, upsample2x_tokens
from sam2.modeling.transformer import TwoWayTransformer


class DecoderOutput(NamedTuple):
    masks: torch.Tensor  # B x M x 4h x 4w logits
    iou_pred: torch.Tensor  # B x M
    sam_tokens_out: torch.Tensor  # B x M' x C (tokens the object pointer is built from)
    object_score_logits: torch.Tensor  # B x 1


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

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
        repeat_image: bool,
        high_res_features: Optional[List[torch.Tensor]] = None,
    ) -> DecoderOutput:
        masks, iou_pred, mask_tokens_out, object_score_logits = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
            repeat_image, high_res_features,
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
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All four masks and scores, before choosing single- or multi-mask output."""
        heads = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            heads.insert(0, self.obj_score_token.weight)
        first = 1 if self.pred_obj_scores else 0
        batch = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat(heads, dim=0).unsqueeze(0).expand(batch, -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        if repeat_image:
            src = torch.repeat_interleave(image_embeddings, batch, dim=0)
        else:
            if image_embeddings.shape[0] != batch:
                raise ValueError("image and prompt batch sizes differ")
            src = image_embeddings
        src = src + dense_prompt_embeddings
        b, c, h, w = src.shape

        # image_pe (1 x C x h x w) is the same for every prompt: broadcast, not repeated
        hs, src = self.transformer(src, image_pe, tokens)
        iou_token_out = hs[:, first, :]
        mask_tokens_out = hs[:, first + 1: first + 1 + self.num_mask_tokens, :]

        upscaled = self._upscale(src.view(b, h, w, c), high_res_features)  # B x 4h x 4w x C/8
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        masks = (hyper_in @ upscaled.flatten(1, 2).transpose(1, 2)).view(b, -1, 4 * h, 4 * w)
        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0, :])
        else:
            object_score_logits = 10.0 * iou_pred.new_ones(iou_pred.shape[0], 1)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def _upscale(self, tokens: torch.Tensor, high_res_features: Optional[List[torch.Tensor]]) -> torch.Tensor:
        """Image tokens (B x h x w x C, channels-last) -> B x 4h x 4w x C/8 mask features.

        Two 2x transposed convolutions, fused with the stride-8 and stride-4 backbone
        features when the model uses them. Everything stays channels-last (the transformer
        already produces that layout), so no NCHW round trips are needed.
        """
        up1, norm1, act1, up2, act2 = self.output_upscaling
        x = upsample2x_tokens(tokens, up1)
        if self.use_high_res_features:
            feat_s0, feat_s1 = high_res_features
            x = x + feat_s1.permute(0, 2, 3, 1)
        x = act1(F.layer_norm(x, (x.shape[-1],), norm1.weight, norm1.bias, norm1.eps))
        x = upsample2x_tokens(x, up2)
        if self.use_high_res_features:
            x = x + feat_s0.permute(0, 2, 3, 1)
        return act2(x)

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
