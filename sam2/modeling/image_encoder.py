"""The image encoder: Hiera trunk + feature-pyramid neck.

The neck projects every trunk stage to ``d_model`` channels with a 1x1 convolution and adds
top-down (nearest-neighbour upsampled) features on the chosen levels. With ``scalp=1`` the
lowest-resolution level is dropped, leaving three maps at strides 4, 8 and 16.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import SAM2Config
from sam2.modeling.hiera import Hiera
from sam2.modeling.position_encoding import PositionEmbeddingSine


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

    def forward(self, xs: List[torch.Tensor]) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        n = len(self.convs) - 1
        if len(xs) != n + 1:
            raise ValueError(f"FpnNeck expects {n + 1} feature maps, got {len(xs)}")
        feats: List[torch.Tensor] = [None] * (n + 1)  # type: ignore[list-item]
        pos: List[torch.Tensor] = [None] * (n + 1)  # type: ignore[list-item]
        above = None
        for i in range(n, -1, -1):  # lowest resolution first
            lateral = self.convs[n - i](xs[i])
            if i in self.fpn_top_down_levels and above is not None:
                align = None if self.fpn_interp_model == "nearest" else False
                top_down = F.interpolate(above.float(), scale_factor=2.0, mode=self.fpn_interp_model,
                                         align_corners=align)
                above = lateral + top_down
            else:
                above = lateral
            feats[i] = above
            pos[i] = self.position_encoding(above)  # float32 whatever the compute dtype
        return feats, pos


class ImageEncoder(nn.Module):
    """Trunk + neck. Returns the dict the rest of SAM 2 consumes (official key names)."""

    def __init__(self, config: SAM2Config) -> None:
        super().__init__()
        self.trunk = Hiera(config.trunk)
        self.neck = FpnNeck(
            config.d_model, self.trunk.channel_list, config.fpn_top_down_levels, config.fpn_interp_model
        )
        self.scalp = config.scalp

    def forward(self, sample: torch.Tensor) -> Dict[str, object]:
        features, pos = self.neck(self.trunk(sample))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": features[-1], "vision_pos_enc": pos, "backbone_fpn": features}
