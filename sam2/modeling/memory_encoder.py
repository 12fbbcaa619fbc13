"""Memory encoder: turn a frame's features and its predicted mask into a compact memory.

The mask (1024x1024 logits, or a binary mask) is squashed to [0, 1], downsampled 16x by a
stack of strided convolutions to the feature grid, added to a projection of the frame's
features, mixed by two ConvNeXt blocks and projected to ``out_dim`` (64) channels. A fixed
sine position map of the same size comes with it, for the memory attention's keys.
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch
from torch import nn

from sam2.configs import MemoryEncoderConfig
from sam2.modeling.common import LayerNorm2d, linear_activation
from sam2.modeling.position_encoding import PositionEmbeddingSine


class MaskDownSampler(nn.Module):
    """Repeated (conv stride s -> LayerNorm2d -> GELU), then a 1x1 conv to ``embed_dim``.

    Each step multiplies the channel count by ``s**2`` so no information is dropped by the
    striding. The layers sit in one ``nn.Sequential`` named ``encoder`` so that state-dict
    indices match the official checkpoints (``encoder.0``, ``encoder.1``, ``encoder.3``, ...).
    """

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 4,
        stride: int = 4,
        padding: int = 0,
        total_stride: int = 16,
    ) -> None:
        super().__init__()
        num_steps = int(math.log2(total_stride) // math.log2(stride))
        if stride**num_steps != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        layers: List[nn.Module] = []
        channels = 1
        for _ in range(num_steps):
            out_channels = channels * stride**2
            layers += [
                nn.Conv2d(channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding),
                LayerNorm2d(out_channels),
                nn.GELU(),
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, embed_dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise conv, channel LayerNorm, pointwise MLP (as Linear layers),
    layer scale ``gamma``, residual."""

    def __init__(self, dim: int, kernel_size: int = 7, padding: int = 3,
                 layer_scale_init_value: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # NCHW -> NHWC for the Linear layers
        # the MLP in its layers' dtype (bfloat16 in fast mode: nearly all of the block's FLOPs)
        y = y.to(self.pwconv1.weight.dtype)
        y = self.pwconv2(linear_activation(self.pwconv1, self.act, y)).to(x.dtype)
        if self.gamma is not None:
            y = self.gamma * y
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of ConvNeXt blocks mixing features and mask (``layers.N`` in checkpoints)."""

    def __init__(self, dim: int, num_layers: int, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim, kernel_size, padding) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """Encode (frame features, mask) into a ``out_dim``-channel memory and its position map."""

    def __init__(self, cfg: MemoryEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mask_downsampler = MaskDownSampler(
            embed_dim=cfg.in_dim,
            kernel_size=cfg.downsampler_kernel_size,
            stride=cfg.downsampler_stride,
            padding=cfg.downsampler_padding,
            total_stride=cfg.downsampler_total_stride,
        )
        self.pix_feat_proj = nn.Conv2d(cfg.in_dim, cfg.in_dim, kernel_size=1)
        self.fuser = Fuser(cfg.in_dim, cfg.fuser_num_layers, cfg.fuser_kernel_size, cfg.fuser_padding)
        self.position_encoding = PositionEmbeddingSine(cfg.out_dim)
        self.out_proj = (
            nn.Conv2d(cfg.in_dim, cfg.out_dim, kernel_size=1) if cfg.out_dim != cfg.in_dim else nn.Identity()
        )
        self.channels_last = False  # exact until set_matmul_dtype says otherwise

    def set_matmul_dtype(self, dtype: torch.dtype) -> None:
        """Run the fuser's channel MLPs (4096 x 256 x 1024 GEMMs, ~8.6 GFLOP per memory, 80 %
        of the encoder's CPU time) in ``dtype``; convolutions and norms stay float32. In
        float32 (exact) the maps keep the reference's NCHW layout (see ``forward``)."""
        for block in self.fuser.layers:
            block.pwconv1.to(dtype)
            block.pwconv2.to(dtype)
        self.channels_last = dtype != torch.float32

    def forward(
        self, pix_feat: torch.Tensor, masks: torch.Tensor, skip_mask_sigmoid: bool = False
    ) -> Dict[str, object]:
        """``pix_feat``: B x C x h x w features; ``masks``: B x 1 x 16h x 16w logits (or
        probabilities with ``skip_mask_sigmoid``). Returns ``vision_features`` (B x out_dim x
        h x w) and ``vision_pos_enc`` (a one-element list with the matching position map)."""
        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        masks = self.mask_downsampler(masks)
        # Fast mode runs the fuser channels-last: its norms and MLPs work on the channel
        # axis, and the mask downsampler's output already has that layout; a mixed-layout
        # residual add (or a norm over a strided channel axis) walks the map at a 16 kB
        # stride. The output is then left channels-last: the tracker reads a memory as tokens
        # (HW x B x C), which that layout already is. Exact mode keeps NCHW maps, as the
        # reference: oneDNN's 1x1 convolutions over 256 channels and the channel norm sum in
        # another order on channels-last maps (3e-7 relative on the EdgeTAM parity inputs).
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        pix_feat = pix_feat.to(masks.device).contiguous(memory_format=layout)
        x = self.pix_feat_proj(pix_feat) + masks.contiguous(memory_format=layout)
        x = self.out_proj(self.fuser(x))
        pos = self.position_encoding(x).to(x.dtype)
        return {"vision_features": x, "vision_pos_enc": [pos]}
