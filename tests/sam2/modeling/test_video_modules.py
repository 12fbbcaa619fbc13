"""Memory attention / memory encoder: checkpoint layout and the behaviour tracking relies on."""

from __future__ import annotations

import json

import pytest
import torch

from sam2.configs import get_config
from sam2.modeling.memory_attention import (
    MemoryAttention,
    RoPEAttention,
    apply_axial_rope,
    axial_rope_frequencies,
)
from sam2.modeling.memory_encoder import MemoryEncoder

from tests.support.parity import PARITY_DIR

CONFIG_NAMES = [f"{fam}_hiera_{s}" for fam in ("sam2", "sam2.1") for s in ("t", "s", "b+", "l")]


def _manifest_subset(name: str, prefix: str):
    with open(PARITY_DIR / "manifests" / f"{name}.json") as f:
        keys = json.load(f)["keys"]
    return {k[len(prefix):]: tuple(v) for k, v in keys.items() if k.startswith(prefix)}


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_state_dict_matches_manifest(name):
    cfg = get_config(name)
    with torch.device("meta"):
        attn = MemoryAttention(cfg.memory_attention)
        enc = MemoryEncoder(cfg.memory_encoder)
    for module, prefix in ((attn, "memory_attention."), (enc, "memory_encoder.")):
        ours = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        assert ours == _manifest_subset(name, prefix)


def test_rope_rotation_is_relative():
    """Rotated q.k depends only on the offset between positions, and norms are kept."""
    rot = axial_rope_frequencies(8, 4, 4)
    q = torch.randn(1, 1, 1, 8).expand(1, 1, 16, 8)
    k = torch.randn(1, 1, 1, 8).expand(1, 1, 16, 8)
    qr, kr = apply_axial_rope(q, k, rot)
    assert torch.allclose(qr.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    dots = (qr[0, 0] @ kr[0, 0].T)
    # token (row 0, col 0) vs (0, 1) equals token (1, 1) vs (1, 2): same offset
    assert torch.allclose(dots[0, 1], dots[5, 6], atol=1e-5)
    assert torch.allclose(dots[0, 4], dots[6, 10], atol=1e-5)


def test_rope_keys_repeat_per_memory_frame_and_skip_pointer_tokens():
    torch.manual_seed(0)
    attn = RoPEAttention(16, 1, kv_in_dim=8, rope_k_repeat=True, feat_sizes=(4, 4)).eval()
    q = torch.randn(2, 16, 16)
    frame = torch.randn(2, 16, 8)
    ptrs = torch.randn(2, 3, 8)
    # Two memory frames (rotated like the queries, each) then 3 pointer tokens.
    with torch.no_grad():
        two = attn(q, torch.cat([frame, frame, ptrs], 1), torch.cat([frame, frame, ptrs], 1),
                   num_k_exclude_rope=3)
        # the pointer tokens are not rotated: permuting them changes nothing
        perm = attn(q, torch.cat([frame, frame, ptrs.flip(1)], 1),
                    torch.cat([frame, frame, ptrs.flip(1)], 1), num_k_exclude_rope=3)
    assert torch.allclose(two, perm, atol=1e-5)
    with pytest.raises(ValueError):
        attn(q, torch.randn(2, 20, 8), torch.randn(2, 20, 8))


def test_memory_attention_shapes_and_batch_check():
    cfg = get_config("sam2.1_hiera_t").memory_attention
    cfg = type(cfg)(**{**cfg.__dict__, "num_layers": 1, "feat_sizes": (8, 8), "dim_feedforward": 32})
    torch.manual_seed(0)
    attn = MemoryAttention(cfg).eval()
    curr = torch.randn(64, 2, 256)
    pos = torch.randn(64, 2, 256)
    mem = torch.randn(2 * 64 + 4, 2, 64)
    mem_pos = torch.randn(2 * 64 + 4, 2, 64)
    with torch.no_grad():
        out = attn([curr], mem, [pos], mem_pos, num_obj_ptr_tokens=4)
    assert out.shape == (64, 2, 256)
    with pytest.raises(ValueError, match="batch"):
        attn(curr, mem[:, :1], pos, mem_pos[:, :1])


def test_memory_encoder_output():
    cfg = get_config("sam2.1_hiera_t").memory_encoder
    torch.manual_seed(0)
    enc = MemoryEncoder(cfg).eval()
    with torch.no_grad():
        out = enc(torch.randn(1, 256, 8, 8), torch.randn(1, 1, 128, 128))
    assert out["vision_features"].shape == (1, 64, 8, 8)
    (pos,) = out["vision_pos_enc"]
    assert pos.shape == (1, 64, 8, 8)
    # skip_mask_sigmoid feeds the mask as given
    with torch.no_grad():
        m = torch.rand(1, 1, 128, 128)
        a = enc(torch.zeros(1, 256, 8, 8), m, skip_mask_sigmoid=True)["vision_features"]
        b = enc(torch.zeros(1, 256, 8, 8), torch.logit(m), skip_mask_sigmoid=False)["vision_features"]
    assert torch.allclose(a, b, atol=1e-4)


def test_real_valued_rope_matches_complex():
    """The (cos, sin) form used on devices without complex support gives the same rotation."""
    rot = axial_rope_frequencies(16, 4, 4)
    q, k = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 48, 16)
    qc, kc = apply_axial_rope(q, k, rot, repeat_for_keys=True)
    qr, kr = apply_axial_rope(q, k, torch.view_as_real(rot), repeat_for_keys=True)
    assert torch.allclose(qc, qr, atol=1e-6) and torch.allclose(kc, kr, atol=1e-6)
