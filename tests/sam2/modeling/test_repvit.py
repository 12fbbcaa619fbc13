"""RepViT trunk: the fused (oneDNN) convolution + GELU path computes what the plain one does."""

from __future__ import annotations

import pytest
import torch

import sam2.modeling.repvit as repvit
from sam2.configs import RepViTConfig


def _randomised_trunk() -> repvit.RepViT:
    """A RepViT-M1 with non-trivial BatchNorm statistics, so the folds are not identities."""
    torch.manual_seed(0)
    trunk = repvit.RepViT(RepViTConfig())
    with torch.no_grad():
        for m in trunk.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    trunk.refold()
    return trunk.eval().fold_batchnorm(True)


@pytest.mark.skipif(not repvit._HAS_FUSED_CONV, reason="this torch has no oneDNN fused convolution")
def test_fused_gelu_matches_conv_then_gelu(monkeypatch):
    unit = repvit.ConvNorm(48, 96).eval()
    unit.folded = True
    x = (torch.randn(1, 48, 32, 32) * 100).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fused = unit.forward_gelu(x)
        monkeypatch.setattr(repvit, "_HAS_FUSED_CONV", False)
        plain = unit.forward_gelu(x)
    assert fused.shape == plain.shape == (1, 96, 32, 32)
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5 * float(plain.abs().max()))
    # and it is a GELU, not the bare convolution
    assert float(fused.min()) > -0.2 and float(unit(x).min()) < -1.0


@pytest.mark.skipif(not repvit._HAS_FUSED_CONV, reason="this torch has no oneDNN fused convolution")
def test_trunk_with_fused_gelu_matches_plain_trunk(monkeypatch):
    trunk = _randomised_trunk()
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        fused = trunk(x)
        monkeypatch.setattr(repvit, "_HAS_FUSED_CONV", False)
        plain = trunk(x)
    assert [f.shape[1] for f in fused] == trunk.channel_list[::-1]  # high-res first; the list is the neck's order
    for a, b in zip(fused, plain):
        assert a.is_contiguous(memory_format=torch.channels_last) and a.dtype == torch.float32  # as computed
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_training_mode_runs_the_unfolded_layers():
    trunk = _randomised_trunk()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        folded = trunk(x)
        trunk.train()
        for m in trunk.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()  # running statistics, as the fold uses, but the unfolded path
        unfolded = trunk(x)
    for a, b in zip(folded, unfolded):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_banded_residual_mlp_equals_whole_map(monkeypatch):
    torch.manual_seed(1)
    mlp = repvit.ConvMlp(16, 32).eval()
    x = torch.randn(1, 16, 37, 20).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = x + mlp(x)
        monkeypatch.setattr(repvit, "_BAND_BYTES", 3 * 20 * 32 * 4)  # bands of 3 rows, the last one 1 row
        got = mlp.add_to(x.clone(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    # an NCHW map or autograd takes the whole-map path, same values
    with torch.no_grad():
        torch.testing.assert_close(mlp.add_to(x.contiguous()), expected, rtol=1e-6, atol=1e-6)


def _reference_order_trunk(trunk: repvit.RepViT, x: torch.Tensor):
    """timm's RepViT as the reference runs it (NCHW, every BatchNorm after its convolution,
    the token mixer's branches summed, SE, residual MLPs), written out from its layers."""
    import torch.nn.functional as F

    def conv_norm(unit, y):
        return unit.bn(unit.c(y))

    def block(b, y):
        y = conv_norm(b.token_mixer.conv, y) + conv_norm(b.token_mixer.conv1, y) + y
        if b.se is not None:
            y = y * b.se.fc2(F.relu(b.se.fc1(y.mean((2, 3), keepdim=True)))).sigmoid()
        return y + conv_norm(b.channel_mixer.conv2, F.gelu(conv_norm(b.channel_mixer.conv1, y)))

    body = trunk.body
    y = conv_norm(body.stem.conv2, F.gelu(conv_norm(body.stem.conv1, x)))
    outs = []
    for i in range(body.num_stages):
        stage = getattr(body, f"stages_{i}")
        if stage.downsample is not None:
            d = stage.downsample
            y = conv_norm(d.channel_downsample, conv_norm(d.spatial_downsample, block(d.pre_block, y)))
            y = conv_norm(d.ffn.conv2, F.gelu(conv_norm(d.ffn.conv1, y))) + y
        for b in stage.blocks:
            y = block(b, y)
        outs.append(y)
    return outs


def test_exact_trunk_is_the_reference_arithmetic_bit_for_bit():
    """Exact mode (the default) computes timm's operations in timm's order and layout, so the
    maps are equal bit for bit (this is what parity with the reference needs: see
    sam2/modeling/repvit.py); the folded trunk is not."""
    trunk = _randomised_trunk().fold_batchnorm(False)
    assert not trunk.batchnorm_folded
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(3)) * 3
    with torch.inference_mode():
        exact = trunk(x)
        expected = _reference_order_trunk(trunk, x)
        folded = trunk.fold_batchnorm(True)(x)
    for a, b, c in zip(exact, expected, folded):
        assert torch.equal(a, b)
        assert not torch.equal(c.contiguous(), b)


def test_gelu_as_reference_on_a_channels_last_map_equals_the_nchw_gelu():
    x = torch.randn(1, 48, 64, 64, generator=torch.Generator().manual_seed(0)) * 100
    expected = torch.nn.functional.gelu(x)
    with torch.inference_mode():
        got = repvit.gelu_as_reference(x.contiguous(memory_format=torch.channels_last))
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got.contiguous(), expected)


@pytest.mark.parametrize("in_dim,out_dim,kernel,groups", [(384, 192, 1, 1), (24, 48, 3, 1), (96, 96, 3, 96)])
def test_conv_as_reference_gives_the_nchw_numbers_on_a_channels_last_map(monkeypatch, in_dim, out_dim, kernel, groups):
    """Wide convolutions (long reductions) sum in another order on channels-last maps on
    oneDNN; conv_as_reference measures which ones do and convolves those on an NCHW copy, so
    its result is the NCHW one bit for bit either way, and channels-last for the next layer."""
    monkeypatch.setattr(repvit, "_LAYOUT_FREE", {})
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(in_dim, out_dim, kernel, padding=kernel // 2, groups=groups, bias=False).eval()
    x = torch.randn(1, in_dim, 48, 48) * 1e3
    with torch.inference_mode():
        expected = conv(x)
        for _ in range(2):  # the first call measures, the second uses the measurement
            got = repvit.conv_as_reference(conv, x.contiguous(memory_format=torch.channels_last))
            assert got.is_contiguous(memory_format=torch.channels_last)
            assert torch.equal(got.contiguous(), expected)
    (same,) = repvit._LAYOUT_FREE.values()
    with torch.inference_mode():
        plain_same = torch.equal(conv(x.contiguous(memory_format=torch.channels_last)).contiguous(), expected)
    assert same == plain_same


def test_depthwise_1x1_runs_as_a_multiplication_with_the_convolutions_numbers():
    conv = torch.nn.Conv2d(96, 96, 1, groups=96, bias=False).eval()
    x = torch.randn(1, 96, 40, 40, generator=torch.Generator().manual_seed(2)) * 1e4
    assert repvit._is_channel_scale(conv) and not repvit._is_channel_scale(torch.nn.Conv2d(96, 96, 3, groups=96))
    with torch.inference_mode():
        expected = conv(x)
        for layout in (torch.contiguous_format, torch.channels_last):
            got = repvit.conv_as_reference(conv, x.contiguous(memory_format=layout))
            assert torch.equal(got.contiguous(), expected)
