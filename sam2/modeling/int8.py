"""Weight-only int8: linear and convolution weights kept as 8-bit integers, so that a big
model (SAM 2.1 large: 224 M parameters, 0.9 GB in float32) takes about a quarter of the
memory once loaded.

Each run of 32 consecutive input weights of an output channel gets one float32 scale
(symmetric: ``scale = max|w| / 127``, ``q = round(w / scale)`` in -127..127; see
``GROUP_SIZE`` for why groups and not one scale per channel). The arithmetic stays
floating point: a quantized layer hands out its weight dequantised (``q * scale``) the
moment it is read, and the temporary is freed after the product. Why dequantise instead
of an integer matmul: the model's fast paths read ``layer.weight`` directly (fused
attention heads, composed 1x1 convolutions, BatchNorm folding, preallocated GEMM outputs),
so a layer whose ``weight`` is a property keeps every one of them working unchanged, and
the activations are never rounded (the only error is the weights' rounding, at most 0.4 %
of the largest weight of its group). The price is one pass over the weight per use, small
against the product with thousands of image tokens.

Quantized layers are subclasses of ``nn.Linear`` / ``nn.Conv2d`` (``isinstance`` checks
and ``forward`` are theirs); their state dict holds ``weight_int8`` and ``weight_scale``
instead of ``weight``, so quantize after loading a float checkpoint (as
``sam2.assembly`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn

#: Layers whose weight has fewer elements than this stay float: they hold a negligible
#: share of the bytes (the mask decoder's 4x4 mask-prompt convolution has 16), and the
#: smallest ones carry the most per-weight information.
MIN_WEIGHT_ELEMENTS = 4096

#: Consecutive input weights sharing one scale. Per output channel (one scale for up to
#: 3072 weights in Hiera's MLPs) the rounding moved the least confident masks of the
#: random-weight parity model to IoU 0.77 against float32; groups of 32 keep them above 0.95,
#: for one float32 scale per 32 bytes (the weights take 0.28 of their float32 bytes
#: instead of 0.25).
GROUP_SIZE = 32

_QMAX = 127


@dataclass(frozen=True)
class Int8Summary:
    """What ``quantize_model_`` did: layers converted and the weight bytes before/after."""

    layers: int
    quantized_parameters: int  # weight elements now stored as int8
    bytes_before: int
    bytes_after: int

    @property
    def ratio(self) -> float:
        return self.bytes_after / max(self.bytes_before, 1)


def quantize_int8(weight: torch.Tensor, group_size: Optional[int] = GROUP_SIZE) -> Tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 of ``weight`` (output channels on dim 0), one scale per ``group_size``
    consecutive weights of an output channel (its inputs flattened: a convolution's
    ``in x kh x kw``); ``group_size=None``, or a channel length it does not divide, gives
    one scale per output channel.

    Returns ``(q, scale)``: ``q`` int8 of ``weight``'s shape, ``scale`` float32 of shape
    ``(out_channels, groups)``; ``dequantize(q, scale)`` is within half a step
    (``scale / 2``) of ``weight``. A group of zeros gets scale 1 (and stays exactly zero).
    """
    w = weight.detach().float()
    rows = w.reshape(w.shape[0], -1)
    n = rows.shape[1]
    groups = n // group_size if group_size and n % group_size == 0 else 1
    blocks = rows.reshape(rows.shape[0], groups, n // groups)
    amax = blocks.abs().amax(dim=2)
    scale = torch.where(amax > 0, amax / _QMAX, torch.ones_like(amax))
    q = torch.round(blocks / scale[:, :, None]).clamp_(-_QMAX, _QMAX).to(torch.int8)
    return q.reshape(w.shape), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``q * scale`` in ``dtype``, each scale applied to its group of an output channel."""
    blocks = q.reshape(q.shape[0], scale.shape[1], -1)
    # int8 x float promotes to the float dtype in the one kernel (no int8 -> float copy
    # first); the integers are exact in bfloat16 too, so the result is the same
    return (blocks * scale.to(dtype)[:, :, None]).reshape(q.shape)


class _Int8Weight:
    """Mixin: ``weight`` read from the int8 buffers, in the dtype of ``weight_scale``.

    The scale is the layer's only floating weight tensor, so ``module.to(torch.bfloat16)``
    (fast precision) converts it and the dequantised weight follows."""

    weight_int8: torch.Tensor
    weight_scale: torch.Tensor

    @property
    def weight(self) -> torch.Tensor:
        return dequantize(self.weight_int8, self.weight_scale, self.weight_scale.dtype)

    @classmethod
    def from_float(cls, layer: nn.Module, group_size: Optional[int] = GROUP_SIZE) -> nn.Module:
        """A quantized copy of ``layer`` sharing its bias, hooks and options."""
        new = cls.__new__(cls)
        new.__dict__.update(layer.__dict__)
        new._parameters = {k: v for k, v in layer._parameters.items() if k != "weight"}
        new._buffers = dict(layer._buffers)
        new._modules = dict(layer._modules)
        q, scale = quantize_int8(layer.weight, group_size)
        new.register_buffer("weight_int8", q.to(layer.weight.device))
        new.register_buffer("weight_scale", scale.to(layer.weight.device, layer.weight.dtype))
        return new

    def extra_repr(self) -> str:  # what print(model) shows
        return super().extra_repr() + ", weight=int8"


class Int8Linear(_Int8Weight, nn.Linear):
    """``nn.Linear`` whose weight is stored as int8 (see ``quantize_int8``)."""


class Int8Conv2d(_Int8Weight, nn.Conv2d):
    """``nn.Conv2d`` whose weight is stored as int8 (see ``quantize_int8``)."""


_KINDS = ((nn.Linear, Int8Linear), (nn.Conv2d, Int8Conv2d))


def _quantized_kind(module: nn.Module, min_elements: int):
    if isinstance(module, _Int8Weight):
        return None
    weight = module._parameters.get("weight")
    if weight is None or not weight.is_floating_point() or weight.numel() < min_elements:
        return None
    for float_cls, int8_cls in _KINDS:
        if type(module) is float_cls:  # exact type: a subclass may read its weight otherwise
            return int8_cls
    return None


def _runs_folded(module: nn.Module) -> bool:
    """Whether ``module`` computes with a float copy folded from its children's weights
    (EdgeTAM's RepViT units fold BatchNorm into the convolution, ``folded_weight``): its
    convolutions' own weights are only read to fold again, so storing them in int8 would
    save nothing while the folded copy stays float32, and would change what a later fold
    computes. Those layers stay float (EdgeTAM's trunk, 4.5 M of its 18 M parameters)."""
    return "folded_weight" in module._buffers


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of every parameter and buffer of ``model`` (each tensor counted once)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def quantize_model_(model: nn.Module, min_elements: int = MIN_WEIGHT_ELEMENTS,
                    group_size: Optional[int] = GROUP_SIZE) -> Int8Summary:
    """Replace, in place, every ``nn.Linear`` and ``nn.Conv2d`` of ``model`` holding at
    least ``min_elements`` weights by its int8 counterpart. Layer by layer, so the float
    weights are freed as it goes (the peak is one layer above the final size)."""
    before = tensor_bytes(model)
    # (parent, name) pairs, not the layers: a list of the float layers would keep every one
    # of them alive until the end, and the peak would be float32 + int8
    targets = [(parent, name) for parent in model.modules() if not _runs_folded(parent)
               for name, child in parent._modules.items()
               if child is not None and _quantized_kind(child, min_elements) is not None]
    replaced = {}  # id(float layer) -> its int8 copy, so a shared layer stays shared
    quantized = 0
    for parent, name in targets:
        child = parent._modules[name]
        if id(child) not in replaced:
            quantized += child.weight.numel()
            replaced[id(child)] = _quantized_kind(child, min_elements).from_float(child, group_size)
        setattr(parent, name, replaced[id(child)])
        del child
    return Int8Summary(len(replaced), quantized, before, tensor_bytes(model))


def is_quantized(model: nn.Module) -> bool:
    """Whether any layer of ``model`` holds int8 weights."""
    return any(isinstance(m, _Int8Weight) for m in model.modules())
