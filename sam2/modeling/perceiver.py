"""EdgeTAM's spatial perceiver: compress one memory frame (64 x 64 tokens) to 512 tokens.

SAM 2's memory attention reads 4096 memory tokens per stored frame; EdgeTAM first lets
two sets of learned latents read the frame and keeps only those:

* 256 global latents, each attending to the whole frame (keys and values carry the
  frame's sine position encoding). They get no position of their own (zeros).
* 256 local latents on a 16 x 16 grid, each attending only to its 4 x 4 window of the
  frame. They keep their grid position: a sine encoding of the 16 x 16 grid, and the
  memory attention rotates their keys with that grid's RoPE.

Both pass through the same stack of layers (cross-attention to the frame, an MLP, then
self-attention among the latents and another MLP, all pre-normed and residual) and a final
LayerNorm. The output is B x 512 x C tokens and their B x 512 x C position encoding.

(The reference builds the local latents' batch with ``view`` on an expanded tensor, which
fails for more than one object at a time; here every object of a batch is compressed.)
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import SpatialPerceiverConfig
from sam2.modeling.position_encoding import PositionEmbeddingSine


def _feed_forward(dim: int, mult: int) -> nn.Sequential:
    """LayerNorm, expand, GELU, project; no biases (state-dict names ff.0, ff.1, ff.3)."""
    return nn.Sequential(
        nn.LayerNorm(dim), nn.Linear(dim, dim * mult, bias=False), nn.GELU(), nn.Linear(dim * mult, dim, bias=False)
    )


class _Heads:
    """Split B x N x (h*d) into B x h x N x d and back."""

    def __init__(self, heads: int) -> None:
        self.heads = heads

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)


class LatentCrossAttention(nn.Module):
    """Latents (queries) attend to input tokens; a position added to keys and values."""

    def __init__(self, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        inner = dim_head * heads
        self.norm_x = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)
        self.heads = _Heads(heads)

    def forward(self, latents: torch.Tensor, x: torch.Tensor, pos: Optional[torch.Tensor] = None) -> torch.Tensor:
        q = self.heads.split(self.to_q(self.norm_latents(latents)))
        k, v = (self.heads.split(t) for t in self.to_kv(self.norm_x(x)).chunk(2, dim=-1))
        if pos is not None:
            pos = self.heads.split(pos)
            k, v = k + pos, v + pos
        return self.to_out(self.heads.merge(F.scaled_dot_product_attention(q, k, v)))


class LatentSelfAttention(nn.Module):
    """Plain pre-normed self-attention among the latents."""

    def __init__(self, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        inner = dim_head * heads
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)
        self.heads = _Heads(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        q = self.heads.split(self.to_q(x))
        k, v = (self.heads.split(t) for t in self.to_kv(x).chunk(2, dim=-1))
        return self.to_out(self.heads.merge(F.scaled_dot_product_attention(q, k, v)))


class PerceiverLayer(nn.Module):
    def __init__(self, cfg: SpatialPerceiverConfig) -> None:
        super().__init__()
        self.attn = LatentCrossAttention(cfg.dim, cfg.dim_head, cfg.heads)
        self.ff = _feed_forward(cfg.dim, cfg.ff_mult)
        self.self_attn = LatentSelfAttention(cfg.dim, cfg.dim_head, cfg.heads)
        self.self_ff = _feed_forward(cfg.dim, cfg.ff_mult)

    def forward(self, latents: torch.Tensor, x: torch.Tensor, pos: Optional[torch.Tensor] = None) -> torch.Tensor:
        latents = latents + self.attn(latents, x, pos)
        latents = latents + self.ff(latents)
        latents = latents + self.self_attn(latents)
        return latents + self.self_ff(latents)


class SpatialPerceiver(nn.Module):
    """Compress a B x C x H x W memory (and its position map) to global + local latents."""

    def __init__(self, cfg: SpatialPerceiverConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latents = nn.Parameter(torch.randn(cfg.num_latents, cfg.dim))
        self.latents_2d = nn.Parameter(torch.randn(cfg.num_latents_2d, cfg.dim))
        self.layers = nn.ModuleList(PerceiverLayer(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.position_encoding = PositionEmbeddingSine(cfg.dim, temperature=10000, normalize=True)
        self.grid = math.isqrt(cfg.num_latents_2d)
        if self.grid * self.grid != cfg.num_latents_2d:
            raise ValueError(f"num_latents_2d must be a square number, got {cfg.num_latents_2d}")

    @property
    def num_tokens(self) -> int:
        return self.cfg.num_latents + self.cfg.num_latents_2d

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x``, ``pos``: B x C x H x W. Returns (tokens, their positions), both B x 512 x C."""
        global_latents, global_pos = self._global(x, pos)
        local_latents, local_pos = self._local(x)
        return torch.cat([global_latents, local_latents], dim=1), torch.cat([global_pos, local_pos], dim=1)

    def _global(self, x: torch.Tensor, pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        tokens = x.flatten(2).transpose(1, 2)
        token_pos = pos.to(x.dtype).flatten(2).transpose(1, 2)
        latents = self.latents.to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)
        for layer in self.layers:
            latents = layer(latents, tokens, token_pos)
        return self.norm(latents), torch.zeros_like(latents)

    def _local(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        g = self.grid
        if h % g or w % g:
            raise ValueError(f"the memory map ({h} x {w}) must split into a {g} x {g} grid of windows")
        wh, ww = h // g, w // g
        # B x C x H x W -> (B * g * g) windows x (wh * ww) tokens x C, windows row-major
        windows = x.reshape(b, c, g, wh, g, ww).permute(0, 2, 4, 3, 5, 1).reshape(b * g * g, wh * ww, c)
        latents = self.latents_2d.to(x.dtype).unsqueeze(0).expand(b, -1, -1).reshape(b * g * g, 1, c)
        for layer in self.layers:
            latents = layer(latents, windows)
        latents = latents.reshape(b, g * g, c)
        grid_pos = self.position_encoding(latents.new_empty(b, c, g, g)).to(x.dtype)
        return self.norm(latents), grid_pos.flatten(2).transpose(1, 2)
