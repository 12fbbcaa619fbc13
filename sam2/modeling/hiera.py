"""Hiera: the hierarchical vision transformer that SAM 2 uses as its image trunk.

Four stages of transformer blocks on a B x H x W x C token grid. Between stages a block
max-pools its queries by 2x2 ("query pooling"), halving the resolution and doubling the
width. Most blocks attend inside local windows; a few chosen blocks attend globally. The
trunk returns the last feature map of every stage (strides 4, 8, 16, 32).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import HieraConfig
from sam2.modeling.common import MLP, attention
from sam2.modeling.workspace import Workspace, borrow, linear_into, output_numel


def pad_to_multiple(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad the H and W axes of a B x H x W x C tensor up to multiples of ``size``."""
    pad_h = -x.shape[1] % size
    pad_w = -x.shape[2] % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x


def to_windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """B x H x W x C (H, W multiples of size) -> (B * nWindows) x size x size x C."""
    b, h, w, c = x.shape
    x = x.view(b, h // size, size, w // size, size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, size, size, c)


def from_windows(windows: torch.Tensor, size: int, padded_hw: Tuple[int, int], hw: Tuple[int, int]) -> torch.Tensor:
    """Inverse of ``to_windows`` followed by cropping away the padding."""
    hp, wp = padded_hw
    b = windows.shape[0] // ((hp // size) * (wp // size))
    x = windows.reshape(b, hp // size, wp // size, size, size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, : hw[0], : hw[1], :] if (hp, wp) != tuple(hw) else x


def _add_windows(x: torch.Tensor, windows: torch.Tensor, size: int) -> torch.Tensor:
    """``x + from_windows(windows)`` for an unpadded B x H x W x C map, in one pass: the
    windows are read through a permuted view instead of being copied back to image order."""
    b, h, w, c = x.shape
    blocks = windows.view(b, h // size, w // size, size, size, c).permute(0, 1, 3, 2, 4, 5)
    return (x.reshape(b, h // size, size, w // size, size, c) + blocks).view(b, h, w, c)


def max_pool_hw(x: torch.Tensor, stride: Tuple[int, int]) -> torch.Tensor:
    """2-D max pooling of a B x H x W x C tensor (kernel = stride, floor mode).

    The elementwise maximum of the stride's strided slices: the same values as
    ``F.max_pool2d``, but read straight from a strided view (the pooled queries are a slice
    of the qkv projection), with no channels-last copy of the input and no index tensor:
    4 ms instead of 27 ms for the queries of Hiera-T's first pooling block in float32.
    """
    sh, sw = stride
    h, w = x.shape[1] // sh * sh, x.shape[2] // sw * sw
    parts = [x[:, i:h:sh, j:w:sw] for i in range(sh) for j in range(sw)]
    out = parts[0]
    for part in parts[1:]:
        out = torch.maximum(out, part)
    return out.contiguous()


class PatchEmbed(nn.Module):
    """7x7 stride-4 convolution that turns the image into a token grid (B x H x W x C)."""

    def __init__(self, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A channels-last input makes the convolution write channels-last, so the token grid
        # below is contiguous. Permuting a channels-first output instead leaves every op of
        # the first block (layer norm over a stride-65536 axis) on a strided view: 30 ms more
        # per image in float32 on a 2-core CPU, bit-identical results.
        return self.proj(x.contiguous(memory_format=torch.channels_last)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention whose queries may be pooled (the stage transition)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride: Optional[Tuple[int, int]]) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor, workspace: Optional[Workspace] = None) -> torch.Tensor:
        """``workspace`` may hold the qkv projection, which is dead once attention is done."""
        b, h, w, _ = x.shape
        with borrow(workspace, output_numel(x, self.qkv), x) as buffer:
            qkv = linear_into(x, self.qkv, buffer).reshape(b, h * w, 3, self.num_heads, -1)
            q, k, v = qkv.unbind(2)
            if self.q_stride is not None:
                q = max_pool_hw(q.reshape(b, h, w, -1), self.q_stride)
                h, w = q.shape[1:3]
                q = q.reshape(b, h * w, self.num_heads, -1)
            out = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return self.proj(out)


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block: (windowed) attention, then a 2-layer GELU MLP."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        mlp_ratio: float,
        window_size: int,
        q_stride: Optional[Tuple[int, int]] = None,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window_size = window_size
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads, q_stride)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor, workspace: Optional[Workspace] = None) -> torch.Tensor:
        """``workspace``: a buffer for the block's largest temporaries (qkv, MLP hidden)."""
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out and self.q_stride is not None:
            # The full-resolution projection is dead once pooled: it may use the workspace.
            with borrow(workspace, output_numel(x, self.proj), x) as buffer:
                shortcut = max_pool_hw(linear_into(x, self.proj, buffer), self.q_stride)
        elif self.dim != self.dim_out:
            shortcut = self.proj(x)

        window = self.window_size
        if window > 0:
            x = to_windows(pad_to_multiple(x, window), window)
        x = self.attn(x, workspace)
        if window > 0:
            if self.q_stride is not None:
                window //= self.q_stride[0]
            h, w = shortcut.shape[1:3]
            if h % window == 0 and w % window == 0:
                x = _add_windows(shortcut, x, window)
            else:
                padded = (h + (-h % window), w + (-w % window))
                x = shortcut + from_windows(x, window, padded, (h, w))
        else:
            x = shortcut + x
        out = self.mlp(self.norm2(x), workspace)
        if (torch.is_grad_enabled() and out.requires_grad) or out.dtype != x.dtype:  # autocast
            return x + out
        return out.add_(x)  # the MLP's output is a fresh buffer: add the residual into it


class Hiera(nn.Module):
    """The Hiera trunk. ``forward`` returns one B x C x H x W map per stage, high-res first."""

    def __init__(self, cfg: HieraConfig) -> None:
        super().__init__()
        if len(cfg.stages) != len(cfg.window_spec):
            raise ValueError("Hiera needs one window size per stage")
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.embed_dim, *cfg.window_pos_embed_bkg_spatial_size))
        first_window = cfg.window_spec[0]
        self.pos_embed_window = nn.Parameter(torch.zeros(1, cfg.embed_dim, first_window, first_window))

        stage_ends = [sum(cfg.stages[: i + 1]) - 1 for i in range(len(cfg.stages))]
        self.stage_ends = stage_ends
        pool_blocks = [end + 1 for end in stage_ends[:-1]][: cfg.q_pool]

        self.blocks = nn.ModuleList()
        dim, heads, stage = cfg.embed_dim, cfg.num_heads, 0
        for i in range(sum(cfg.stages)):
            # The first block of a stage still windows at the previous stage's size: it pools
            # its queries inside those windows, which leaves windows of the new stage's size.
            window = 0 if i in cfg.global_att_blocks else cfg.window_spec[stage]
            dim_out = dim
            if i - 1 in stage_ends:  # first block of a new stage widens the features
                dim_out = int(dim * cfg.dim_mul)
                heads = int(heads * cfg.head_mul)
                stage += 1
            self.blocks.append(
                MultiScaleBlock(
                    dim, dim_out, heads, cfg.mlp_ratio, window,
                    q_stride=cfg.q_stride if i in pool_blocks else None,
                )
            )
            dim = dim_out
        self.channel_list = [self.blocks[i].dim_out for i in reversed(stage_ends)]
        # Kept across images: the largest per-block temporaries reuse its mapped pages.
        self.workspace = Workspace()
        # (key, table) of the last position embedding computed outside training (_pos_embed)
        self.pos_embed_kept: Optional[Tuple[tuple, torch.Tensor]] = None

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        """Background table resized bicubically to the grid, plus the tiled window table.

        A pure function of the parameters and the grid size, so outside training it is kept
        and reused (the bicubic resize costs ~25 ms per image on a 2-core CPU); the key holds
        the parameters' versions, so loading new weights recomputes it.
        """
        key = (h, w, self.pos_embed.dtype, self.pos_embed.device, self.pos_embed._version,
               self.pos_embed_window._version)
        kept = self.pos_embed_kept
        if kept is not None and kept[0] == key:
            return kept[1]
        pe = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        reps = [a // b for a, b in zip(pe.shape, self.pos_embed_window.shape)]
        pe = (pe + self.pos_embed_window.tile(reps)).permute(0, 2, 3, 1)
        if not (self.training and torch.is_grad_enabled()):
            pe = pe.detach()
            self.pos_embed_kept = (key, pe)
        return pe

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._pos_embed(x.shape[1], x.shape[2])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x, self.workspace)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
