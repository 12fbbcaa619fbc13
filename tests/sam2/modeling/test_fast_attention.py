"""Fast attention paths: blocked bfloat16 attention on the CPU, value folding in the memory
attention, and the cached Hiera position embedding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam2.modeling import common, memory_attention
from sam2.modeling.common import attention
from sam2.modeling.memory_attention import RoPEAttention


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("block_bytes", [1 << 30, 64 << 10])  # whole groups per GEMM / row blocks
@pytest.mark.parametrize("shape", [(2, 3, 50, 200, 32, 16), (1, 1, 300, 1000, 64, 64)])
def test_blocked_bfloat16_attention_is_close_to_float32(monkeypatch, block_bytes, shape):
    monkeypatch.setattr(common, "_SCORE_BLOCK_BYTES", block_bytes)
    b, h, n, m, d, dv = shape
    torch.manual_seed(0)
    q, k, v = torch.randn(b, h, n, d), torch.randn(b, h, m, d), torch.randn(b, h, m, dv)
    exact = F.scaled_dot_product_attention(q, k, v)
    fast = attention(q, k, v, torch.bfloat16)
    assert fast.shape == exact.shape and fast.dtype == torch.float32
    assert _rel(fast, exact) < 2e-2
    # bfloat16 inputs stay bfloat16
    assert attention(q.bfloat16(), k.bfloat16(), v.bfloat16()).dtype == torch.bfloat16
    # float32 compute is PyTorch's own kernel, untouched
    assert torch.equal(attention(q, k, v), exact)


def test_value_folding_computes_the_same_cross_attention(monkeypatch):
    torch.manual_seed(0)
    attn = RoPEAttention(256, 1, kv_in_dim=64, rope_k_repeat=True).eval()
    q, memory = torch.randn(2, 64, 256), torch.randn(2, 3 * 64 + 4, 64)
    with torch.no_grad():
        plain = attn(q, memory, memory, num_k_exclude_rope=4)
        # the folding is used where attention runs as GEMMs; force it in float32 to check the math
        monkeypatch.setattr(memory_attention, "attention_is_blocked", lambda device, dtype: True)
        folded = attn(q, memory, memory, num_k_exclude_rope=4)
    assert _rel(folded, plain) < 1e-5


def test_hiera_position_embedding_cache_follows_the_weights():
    from sam2.configs import get_config
    from sam2.modeling.image_encoder import ImageEncoder

    torch.manual_seed(0)
    trunk = ImageEncoder(get_config("sam2.1_hiera_t")).trunk.eval()
    with torch.no_grad():
        first = trunk._pos_embed(32, 32)
        assert trunk._pos_embed(32, 32) is first  # reused
        trunk.load_state_dict({**trunk.state_dict(), "pos_embed": torch.randn_like(trunk.pos_embed)})
        second = trunk._pos_embed(32, 32)
    assert second is not first and not torch.allclose(second, first)
    assert trunk._pos_embed(16, 16).shape == (1, 16, 16, first.shape[-1])


def test_adding_windows_in_place_of_unpartitioning():
    from sam2.modeling.hiera import _add_windows, from_windows, to_windows

    torch.manual_seed(0)
    x = torch.randn(2, 16, 24, 8)
    windows = to_windows(torch.randn(2, 16, 24, 8), 8)
    expected = x + from_windows(windows, 8, (16, 24), (16, 24))
    assert torch.equal(_add_windows(x, windows, 8), expected)
    strided = x.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)  # same values, not contiguous
    assert torch.equal(_add_windows(strided, windows, 8), expected)


@pytest.mark.parametrize("act", [torch.nn.GELU(), torch.nn.GELU(approximate="tanh"), torch.nn.ReLU(), torch.nn.SiLU()])
def test_activations_overwrite_fresh_buffers_only_outside_autograd(act):
    from sam2.modeling.common import activate_in_place

    torch.manual_seed(0)
    x = torch.randn(64, 48)
    expected = act(x)
    with torch.no_grad():
        buf = x.clone()
        out = activate_in_place(act, buf)
    assert torch.equal(out, expected)
    if not isinstance(act, torch.nn.SiLU):  # no in-place form used: a new tensor
        assert out.data_ptr() == buf.data_ptr()
    # with autograd recording, the input is left alone (backward needs it)
    leaf = x.clone().requires_grad_()
    y = leaf * 1.0
    out = activate_in_place(act, y)
    assert out.data_ptr() != y.data_ptr() and torch.equal(y.detach(), x)
    out.sum().backward()
    assert leaf.grad is not None
