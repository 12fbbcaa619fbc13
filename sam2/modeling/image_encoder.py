"""The image encoder: a trunk (Hiera for SAM 2, RepViT for EdgeTAM) + feature-pyramid neck.

The neck projects every trunk stage to ``d_model`` channels with a 1x1 convolution and adds
top-down (nearest-neighbour upsampled) features on the chosen levels. With ``scalp=1`` the
lowest-resolution level is dropped, leaving three maps at strides 4, 8 and 16.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import RepViTConfig, SAM2Config
from sam2.modeling.hiera import Hiera
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.repvit import RepViT


class FpnNeck(nn.Module):
    """Lateral 1x1 projections with top-down fusion on ``fpn_top_down_levels`` only."""

    def __init__(
        self,
        d_model: int,
        backbone_channel_list: Sequence[int],
        fpn_top_down_levels: Sequence[int],
        fpn_interp_model: str = "nearest",
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.position_encoding = PositionEmbeddingSine(d_model, temperature=10000, normalize=True)
        self.convs = nn.ModuleList()
        for dim in backbone_channel_list:
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
            self.convs.append(lateral)
        self.fpn_top_down_levels = list(fpn_top_down_levels)
        self.fpn_interp_model = fpn_interp_model

    def forward(self, xs: List[torch.Tensor], level_heads: Optional[Dict[int, nn.Conv2d]] = None
                ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Lateral projections (+ top-down fusion) of the trunk's maps, and their positions.

        ``level_heads`` maps a level to a 1x1 convolution that its output will go through
        next (the mask decoder's conv_s0 / conv_s1 on the stride-4 and stride-8 levels).
        Where the level is a plain lateral projection (no top-down fusion into it or from
        it), the two 1x1 convolutions are composed into one, applied in float32: the same
        linear map for a fraction of the work (96 -> 32 channels instead of 96 -> 256 -> 32
        on 256 x 256 tokens), and the level comes out already projected.
        """
        n = len(self.convs) - 1
        if len(xs) != n + 1:
            raise ValueError(f"FpnNeck expects {n + 1} feature maps, got {len(xs)}")
        level_heads = level_heads or {}
        feats: List[torch.Tensor] = [None] * (n + 1)  # type: ignore[list-item]
        pos: List[torch.Tensor] = [None] * (n + 1)  # type: ignore[list-item]
        above = None
        for i in range(n, -1, -1):  # lowest resolution first
            lateral_conv = self.convs[n - i].conv
            if i in level_heads and not self._fused(i) and not self._fused(i - 1):
                above = F.conv2d(xs[i].float(), *_compose_1x1(level_heads[i], lateral_conv))
            else:
                lateral = lateral_conv(xs[i])
                if self._fused(i) and above is not None:
                    align = None if self.fpn_interp_model == "nearest" else False
                    top_down = F.interpolate(above.float(), scale_factor=2.0, mode=self.fpn_interp_model,
                                             align_corners=align)
                    above = lateral + top_down
                else:
                    above = lateral
                if i in level_heads:
                    above = level_heads[i](above.float())
            feats[i] = above  # a channels-last trunk gives channels-last maps: the tracker reads them as tokens
            pos[i] = self.position_encoding(above)  # float32 whatever the compute dtype
        return feats, pos

    def _fused(self, level: int) -> bool:
        return level in self.fpn_top_down_levels


def _compose_1x1(outer: nn.Conv2d, inner: nn.Conv2d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Float32 weight and bias of one 1x1 convolution computing ``outer(inner(x))``."""
    w_out, w_in = outer.weight.float().flatten(1), inner.weight.float().flatten(1)
    weight = (w_out @ w_in)[:, :, None, None]
    bias = w_out @ inner.bias.float() + outer.bias.float()
    return weight, bias


class ImageEncoder(nn.Module):
    """Trunk + neck. Returns the dict the rest of SAM 2 consumes (official key names)."""

    def __init__(self, config: SAM2Config) -> None:
        super().__init__()
        if isinstance(config.trunk, RepViTConfig):
            self.trunk = RepViT(config.trunk)
        else:
            self.trunk = Hiera(config.trunk)
        self.neck = FpnNeck(
            config.d_model, self.trunk.channel_list, config.fpn_top_down_levels, config.fpn_interp_model
        )
        self.scalp = config.scalp

    def forward(self, sample: torch.Tensor, level_heads: Optional[Dict[int, nn.Conv2d]] = None) -> Dict[str, object]:
        """``level_heads``: see ``FpnNeck.forward`` (those levels come out already projected)."""
        features, pos = self.neck(self.trunk(sample), level_heads)
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": features[-1], "vision_pos_enc": pos, "backbone_fpn": features}
