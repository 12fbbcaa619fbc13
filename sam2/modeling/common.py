"""Small building blocks shared by several SAM 2 modules."""

from __future__ import annotations

from typing import Type

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """A stack of linear layers with an activation between them (none after the last).

    The layers live in ``self.layers`` because that is where the official checkpoints keep
    their weights (``...mlp.layers.0.weight``).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        activation: Type[nn.Module] = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = self.act(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """Layer norm over the channel axis of an NCHW tensor (ConvNeXt style)."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def stability_scores(mask_logits: torch.Tensor, offset: float, threshold: float = 0.0) -> torch.Tensor:
    """IoU of a mask thresholded at ``threshold + offset`` and at ``threshold - offset``.

    A mask whose area hardly changes when the threshold moves is a confident mask. An empty
    mask (no pixel above the lower threshold) counts as perfectly stable (1.0).
    """
    flat = mask_logits.flatten(-2)
    inner = (flat > threshold + offset).sum(-1, dtype=torch.int32).float()
    outer = (flat > threshold - offset).sum(-1, dtype=torch.int32).float()
    return torch.where(outer > 0, inner / outer, torch.ones_like(outer))


def resize_bilinear(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize with ``align_corners=False`` (what SAM uses for mask logits)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, compute_dtype: torch.dtype = torch.float32,
              dropout_p: float = 0.0) -> torch.Tensor:
    """Scaled dot-product attention computed in ``compute_dtype``, returned in ``q``'s dtype.

    PyTorch's fused attention in bfloat16 runs on the bfloat16 matrix units of recent CPUs
    (AVX512-BF16/AMX) and GPUs, 3-4x faster than in float32; the softmax inside it still
    accumulates in float32. With ``compute_dtype`` equal to the inputs' dtype nothing is cast.
    """
    if compute_dtype == q.dtype:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    out = F.scaled_dot_product_attention(q.to(compute_dtype), k.to(compute_dtype), v.to(compute_dtype),
                                         dropout_p=dropout_p)
    return out.to(q.dtype)
