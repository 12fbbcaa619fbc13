"""Small building blocks shared by several SAM 2 modules."""

from __future__ import annotations

from typing import Optional, Type

import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.workspace import Workspace, borrow, linear_into, output_numel


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

    def forward(self, x: torch.Tensor, workspace: Optional[Workspace] = None) -> torch.Tensor:
        """``workspace`` (see ``sam2.modeling.workspace``) may hold the first hidden layer,
        which is dead once the next layer has read it."""
        last = len(self.layers) - 1
        first = self.layers[0]
        with borrow(workspace if last > 0 else None, output_numel(x, first), x) as buffer:
            for i, layer in enumerate(self.layers):
                x = linear_into(x, layer, buffer) if i == 0 else layer(x)
                if i < last:
                    x = activate_in_place(self.act, x)
        return torch.sigmoid(x) if self.sigmoid_output else x


def may_write_in_place(training: bool, *tensors: torch.Tensor) -> bool:
    """Whether a fresh intermediate may be overwritten: not while training, and not where
    autograd may need one of ``tensors`` as it was."""
    return not training and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))


def add_into_branch(branch: torch.Tensor, x: torch.Tensor, training: bool) -> torch.Tensor:
    """``branch + x`` for a residual step, written into ``branch`` (a sub-block's fresh
    output, held by nothing else) where ``may_write_in_place``: one map-sized allocation
    fewer per block (up to 25 MB in the RepViT trunk, 4096 x 256 in the memory attention).
    ``x`` may be kept by the caller (the cached first self-attention), so it is never
    written."""
    return branch.add_(x) if may_write_in_place(training, branch, x) else branch + x


def activate_in_place(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` for a freshly computed ``x`` that nothing else holds, overwriting it where
    autograd does not need it (inference) and the activation has an in-place form.

    Hiera's MLP hidden layers are 25-100 MB per block in float32; a second buffer as large
    for the activation's output costs more in fresh memory pages than the GELU itself.
    Same values as ``act(x)``.
    """
    if not may_write_in_place(False, x):
        return act(x)
    if type(act) is nn.GELU:
        return torch.ops.aten.gelu_(x, approximate=act.approximate)
    if type(act) is nn.ReLU:
        return torch.relu_(x)
    return act(x)


def linear_activation(linear: nn.Linear, act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(linear(x))`` for the hidden layer of an MLP.

    In bfloat16 inference on a CPU this is one oneDNN call with the bias and the ReLU or
    GELU as post-ops: ``addmm`` first broadcasts the bias into the whole hidden map (4096 x
    2048 in the memory attention, a 16 MB write) and the activation then reads and writes
    it again; the fused call does neither (memory attention hidden layer: 9.6 -> 6.2 ms per
    layer on a 2-core AVX512-BF16 CPU). ReLU results are bit-identical; oneDNN's GELU differs from
    ATen's in the last bfloat16 bit. Float32 keeps the ATen path (exact mode is untouched).
    """
    if _fused_linear_applies(linear, act, x):
        if type(act) is nn.ReLU:
            return torch.ops.mkldnn._linear_pointwise(x, linear.weight, linear.bias, "relu", [], "")
        return torch.ops.mkldnn._linear_pointwise(x, linear.weight, linear.bias, "gelu", [], act.approximate)
    return activate_in_place(act, linear(x))


def _fused_linear_applies(linear: nn.Linear, act: nn.Module, x: torch.Tensor) -> bool:
    return (_HAS_FUSED_LINEAR and x.device.type == "cpu" and x.dtype == torch.bfloat16
            and linear.weight.dtype == torch.bfloat16 and x.is_contiguous()
            and (type(act) is nn.ReLU or (type(act) is nn.GELU and act.approximate in ("none", "tanh")))
            and not torch.is_grad_enabled())


_HAS_FUSED_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class LayerNorm2d(nn.Module):
    """Layer norm over the channel axis of an NCHW tensor (ConvNeXt style)."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two ways to the same numbers (to float rounding), chosen by the layout.

        On a channels-last map, PyTorch's fused layer norm over the last axis of the NHWC
        view: one pass instead of six (3-10x less CPU time on the memory encoder's 128 x
        128 x 64 and 64 x 64 x 256 maps); the result is NCHW-shaped with channels-last
        strides, which the convolution that follows prefers. On an NCHW map that view is
        strided, so the fused kernel first copies it and then normalises many short rows
        (the mask downsampler's first map, 4 channels at 512 x 512: 4.5 ms); there the
        reference's mean / variance / scale over axis 1 takes 0.9 ms.
        """
        weight, bias = self.weight.to(x.dtype), self.bias.to(x.dtype)
        if x.is_contiguous() and x.shape[1] > 1:
            mean = x.mean(1, keepdim=True)
            centred = x - mean
            var = centred.square().mean(1, keepdim=True)
            if not may_write_in_place(False, x, weight, bias):
                return weight[:, None, None] * (centred / torch.sqrt(var + self.eps)) + bias[:, None, None]
            y = centred.div_(torch.sqrt(var.add_(self.eps)))  # fresh buffers: in place
            return y.mul_(weight[:, None, None]).add_(bias[:, None, None])
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), weight, bias, self.eps)
        return y.permute(0, 3, 1, 2)


def stability_scores(mask_logits: torch.Tensor, offset: float, threshold: float = 0.0) -> torch.Tensor:
    """IoU of a mask thresholded at ``threshold + offset`` and at ``threshold - offset``.

    A mask whose area hardly changes when the threshold moves is a confident mask. An empty
    mask (no pixel above the lower threshold) counts as perfectly stable (1.0).
    """
    flat = mask_logits.flatten(-2)
    inner = (flat > threshold + offset).sum(-1, dtype=torch.int32).float()
    outer = (flat > threshold - offset).sum(-1, dtype=torch.int32).float()
    return torch.where(outer > 0, inner / outer, torch.ones_like(outer))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, compute_dtype: Optional[torch.dtype] = None,
              dropout_p: float = 0.0) -> torch.Tensor:
    """Scaled dot-product attention computed in ``compute_dtype`` (default: the inputs'),
    returned in ``q``'s dtype.

    Mostly PyTorch's fused attention. But in bfloat16 on the CPU the fused kernel runs no
    faster than in float32 (~200 GFLOP/s on an AVX512-BF16 core pair), so there the
    attention is computed as blocks of two bfloat16 GEMMs with the softmax between them
    (``_blocked_cpu_attention``), which do run on the bfloat16 units: 2-3x faster.
    """
    compute_dtype = q.dtype if compute_dtype is None else compute_dtype
    if attention_is_blocked(q.device, compute_dtype) and dropout_p == 0.0:
        return _blocked_cpu_attention(q, k, v, compute_dtype).to(q.dtype)
    if compute_dtype == q.dtype:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    out = F.scaled_dot_product_attention(q.to(compute_dtype), k.to(compute_dtype), v.to(compute_dtype),
                                         dropout_p=dropout_p)
    return out.to(q.dtype)


def attention_is_blocked(device: torch.device, compute_dtype: torch.dtype) -> bool:
    """Whether ``attention`` computes as explicit GEMMs (not the fused kernel) there."""
    return device.type == "cpu" and compute_dtype == torch.bfloat16


# The scores of one block (query rows x keys, over one or more batch x head groups) are kept
# to about this size, so that they stay in cache between the two GEMMs and the softmax.
_SCORE_BLOCK_BYTES = 8 << 20


def _row_block_bytes(keys_values_bytes: int) -> int:
    """Score block size when one group's attention is split into row blocks.

    Every row block reads all of the group's keys and values again, so with many keys
    (the memory attention: 28,736 keys, 18 MB of bfloat16 keys and values) larger blocks,
    fewer passes over them, win; with few (Hiera's global attention, 1.5 MB per head)
    smaller blocks that stay in cache do. Measured on a 2-core AVX512-BF16 CPU:
    4096 x 28,708 keys 150 -> 133 ms with 16 MB instead of 8 MB blocks; 4096 x 4096 x 4
    heads 47 -> 44 ms with 4 MB.
    """
    return min(max(keys_values_bytes, _SCORE_BLOCK_BYTES // 2), _SCORE_BLOCK_BYTES * 2)


def _blocked_cpu_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v for ... x N x D inputs, GEMMs and softmax in ``dtype``.

    The softmax reads ``dtype`` scores and accumulates in float32 internally; the scores
    themselves are rounded to ``dtype`` by the first GEMM (PyTorch's CPU GEMMs have no
    float32 output for bfloat16 inputs), which is the price of the speed. Small attentions
    (windows) are batched many groups per GEMM; large ones are split into row blocks.
    """
    *lead, n, d = q.shape
    m = k.shape[-2]
    qs = (q * d ** -0.5).to(dtype).reshape(-1, n, d)
    ks = k.to(dtype).reshape(-1, m, d)
    vs = v.to(dtype).reshape(-1, m, v.shape[-1])
    groups = qs.shape[0]
    out = torch.empty(groups, n, vs.shape[-1], dtype=dtype, device=q.device)
    score_bytes = max(1, n * m * qs.element_size())
    if score_bytes <= _SCORE_BLOCK_BYTES:  # whole groups per block
        step = _SCORE_BLOCK_BYTES // score_bytes
        for g in range(0, groups, step):
            scores = torch.bmm(qs[g:g + step], ks[g:g + step].transpose(1, 2))
            torch.bmm(torch.softmax(scores, dim=-1), vs[g:g + step], out=out[g:g + step])
    else:  # row blocks of one group
        block_bytes = _row_block_bytes(m * (d + vs.shape[-1]) * qs.element_size())
        rows = max(1, block_bytes // (m * qs.element_size()))
        for g in range(groups):
            keys_t = ks[g].t()
            for start in range(0, n, rows):
                scores = qs[g, start:start + rows] @ keys_t
                torch.mm(torch.softmax(scores, dim=-1), vs[g], out=out[g, start:start + rows])
    return out.view(*lead, n, vs.shape[-1])
