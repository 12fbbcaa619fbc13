"""Weight-only int8 (sam2.modeling.int8): what the layers store, how close their weights are
to the float ones, and that the builders' ``precision="int8"`` gives a model that holds a
quarter of the float32 bytes and still computes in float32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.int8 import (
    MIN_WEIGHT_ELEMENTS, Int8Conv2d, Int8Linear, dequantize, is_quantized, quantize_int8, quantize_model_,
    tensor_bytes,
)


@pytest.mark.parametrize("group_size, groups", [(32, 9), (None, 1), (7, 1)])  # 7 does not divide 288: per channel
def test_rounding_is_within_half_a_step_of_each_group(group_size, groups):
    torch.manual_seed(0)
    w = torch.randn(64, 32, 3, 3) * torch.logspace(-3, 2, 64).view(-1, 1, 1, 1)  # channels of very different size
    w[5] = 0.0
    w[7, 0, 0] *= 1000  # outliers in the first group of channel 7
    q, scale = quantize_int8(w, group_size)
    assert q.dtype == torch.int8 and q.shape == w.shape and scale.shape == (64, groups)
    blocks = w.flatten(1).reshape(64, groups, -1)
    err = (dequantize(q, scale) - w).flatten(1).reshape(64, groups, -1).abs().amax(2)
    assert torch.all(err <= scale / 2 * (1 + 1e-5))
    amax = blocks.abs().amax(2)
    torch.testing.assert_close(scale, torch.where(amax > 0, amax / 127, torch.ones_like(amax)))
    assert torch.equal(dequantize(q, scale)[5], torch.zeros_like(w[5]))  # a zero channel stays exactly zero
    if groups > 1:  # the outlier costs only its own group its resolution
        assert float(scale[7, 1]) < float(scale[7, 0]) / 100


def test_int8_layers_compute_with_their_dequantised_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(128, 64), nn.GELU(), nn.Conv2d(4, 256, 3, padding=1), nn.Linear(2, 3))
    lin, conv = model[0], model[2]
    x, img = torch.randn(5, 128), torch.randn(2, 4, 8, 8)
    ref_lin, ref_conv = lin(x), conv(img)
    summary = quantize_model_(model)
    assert summary.layers == 2  # the 2x3 linear is below MIN_WEIGHT_ELEMENTS and stays float
    assert isinstance(model[0], Int8Linear) and isinstance(model[0], nn.Linear)
    assert isinstance(model[2], Int8Conv2d) and type(model[3]) is nn.Linear
    assert "weight" not in dict(model[0].named_parameters()) and model[0].weight_int8.dtype == torch.int8
    assert set(model.state_dict()) >= {"0.weight_int8", "0.weight_scale", "0.bias", "3.weight"}
    w = dequantize(model[0].weight_int8, model[0].weight_scale)
    torch.testing.assert_close(model[0](x), F.linear(x, w, model[0].bias), rtol=0, atol=0)
    # the rounding moves outputs by well under 1 % (relative L2), not more
    for out, ref in ((model[0](x), ref_lin), (model[2](img), ref_conv)):
        rel = float((out - ref).detach().norm() / ref.detach().norm())
        assert 1e-5 < rel < 1e-2, rel
    assert is_quantized(model) and not is_quantized(nn.Linear(2, 2))


def test_bfloat16_cast_keeps_int8_storage():
    layer = Int8Linear.from_float(nn.Linear(128, 64))
    layer.to(torch.bfloat16)
    assert layer.weight_int8.dtype == torch.int8 and layer.weight.dtype == torch.bfloat16
    assert layer(torch.randn(3, 128, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_model_weights_take_a_quarter_of_float32():
    from sam2.configs import get_config
    from sam2.modeling.sam2_base import SAM2Base

    model = SAM2Base(get_config("sam2.1_hiera_t")).eval()
    before = tensor_bytes(model)
    summary = quantize_model_(model)
    assert summary.bytes_before == before and summary.bytes_after == tensor_bytes(model)
    assert summary.quantized_parameters > 0.99 * before / 4  # nearly every weight is int8
    int8_bytes = sum(b.numel() for n, b in model.named_buffers() if n.endswith("weight_int8"))
    assert int8_bytes == summary.quantized_parameters  # one byte each: a quarter of their float32 bytes
    # int8 weights (0.25) + one float32 scale per 32 of them (0.03) + the float layers left
    assert 0.26 < summary.ratio < 0.30, summary
    assert MIN_WEIGHT_ELEMENTS > 16


def test_edgetam_folded_trunk_stays_float():
    """EdgeTAM's RepViT convolutions run from float32 copies folded with their BatchNorm:
    they stay float (int8 there would save nothing); the rest of the model is int8."""
    from sam2.configs import get_config
    from sam2.modeling.sam2_base import SAM2Base

    model = SAM2Base(get_config("edgetam")).eval()
    summary = quantize_model_(model)
    folded = [m for m in model.image_encoder.trunk.modules() if "folded_weight" in m._buffers]
    assert len(folded) > 50 and not any(is_quantized(m) for m in folded)
    assert is_quantized(model.memory_attention) and is_quantized(model.spatial_perceiver)
    assert isinstance(model.image_encoder.trunk.body.stages_2.blocks[0].se.fc1, Int8Conv2d)  # computes from .weight
    assert 0.5 < summary.ratio < 0.7, summary


def test_builder_precision_int8(tiny_checkpoint):
    from sam2.build_sam import build_sam2
    from sam2.precision import PRECISIONS

    assert "int8" in PRECISIONS
    model = build_sam2("sam2.1_hiera_t", tiny_checkpoint, device="cpu", precision="int8")
    assert is_quantized(model) and model.compute_dtype == torch.float32
    assert isinstance(model.image_encoder.trunk.blocks[0].attn.qkv, Int8Linear)
    with pytest.raises(ValueError, match="precision"):
        build_sam2("sam2.1_hiera_t", tiny_checkpoint, device="cpu", precision="int4")


def test_float_weights_are_freed_as_layers_are_replaced():
    """Nothing keeps the replaced float layers alive (a list of all modules did: the peak
    was then float32 + int8, and nothing was freed until the end)."""
    import weakref

    model = nn.Sequential(*[nn.Linear(256, 256) for _ in range(4)])
    weights = [weakref.ref(layer.weight) for layer in model]
    freed_when_next_done = []
    original = Int8Linear.from_float.__func__

    def spy(cls, layer, group_size=32):
        freed_when_next_done.append(sum(w() is None for w in weights))
        return original(cls, layer, group_size)

    Int8Linear.from_float = classmethod(spy)
    try:
        quantize_model_(model)
    finally:
        Int8Linear.from_float = classmethod(original)
    assert freed_when_next_done == [0, 1, 2, 3]  # each layer freed before the next is quantized
    assert all(w() is None for w in weights)
