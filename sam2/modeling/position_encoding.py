"""Position encodings for image features and prompts.

* ``PositionEmbeddingSine``: the fixed 2-D sine/cosine map added to FPN features and memories.
* ``PositionEmbeddingRandom``: SAM's random Fourier features for prompt coordinates.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """A fixed sine/cosine encoding of (row, column) positions of a feature map.

    Half of the channels encode the row, half the column; within each half, channels
    alternate sine and cosine at geometrically spaced frequencies. Positions are normalised
    to (0, 2*pi] when ``normalize`` is set. Maps are cached per spatial size because the
    result depends on nothing else.
    """

    def __init__(
        self,
        num_pos_feats: int,
        temperature: float = 10000,
        normalize: bool = True,
        scale: Optional[float] = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError("PositionEmbeddingSine needs an even number of channels")
        if scale is not None and not normalize:
            raise ValueError("a scale is only meaningful with normalize=True")
        self.num_pos_feats = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: Dict[Tuple[int, int], torch.Tensor] = {}

    def _frequencies(self, device) -> torch.Tensor:
        idx = torch.arange(self.num_pos_feats, dtype=torch.float32, device=device)
        return self.temperature ** (2 * (idx // 2) / self.num_pos_feats)

    def _interleave(self, angles: torch.Tensor) -> torch.Tensor:
        # (..., F) angles -> (..., F) with sin on even and cos on odd frequencies, paired
        return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)

    def _map(self, h: int, w: int, device) -> torch.Tensor:
        ys = torch.arange(1, h + 1, dtype=torch.float32, device=device)
        xs = torch.arange(1, w + 1, dtype=torch.float32, device=device)
        if self.normalize:
            eps = 1e-6
            ys = ys / (ys[-1:] + eps) * self.scale
            xs = xs / (xs[-1:] + eps) * self.scale
        freqs = self._frequencies(device)
        pos_y = self._interleave(ys[:, None] / freqs)  # h x F
        pos_x = self._interleave(xs[:, None] / freqs)  # w x F
        pos = torch.cat(
            (pos_y[:, None, :].expand(h, w, -1), pos_x[None, :, :].expand(h, w, -1)), dim=-1
        )
        return pos.permute(2, 0, 1).contiguous()  # C x h x w

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.shape[-2], x.shape[-1])
        pe = self._cache.get(key)
        if pe is None or pe.device != x.device:
            pe = self._map(*key, device=x.device)
            self._cache[key] = pe
        return pe[None].expand(x.shape[0], -1, -1, -1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) coordinates, as in SAM."""

    def __init__(self, num_pos_feats: int = 64, scale: Optional[float] = None) -> None:
        super().__init__()
        scale = 1.0 if scale is None or scale <= 0.0 else scale
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _encode(self, coords01: torch.Tensor) -> torch.Tensor:
        proj = (2 * coords01 - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def forward(self, size: Tuple[int, int]) -> torch.Tensor:
        """The encoding of every cell centre of an ``h x w`` grid, as C x h x w."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        grid = torch.stack(
            [xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1
        )
        return self._encode(grid).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
        """Encode B x N x 2 pixel coordinates (x, y) of an image of ``image_size`` (h, w)."""
        size_xy = coords.new_tensor([float(image_size[1]), float(image_size[0])])
        return self._encode((coords / size_xy).float())
