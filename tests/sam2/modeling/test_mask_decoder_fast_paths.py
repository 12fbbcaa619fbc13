"""The mask decoder's fast paths compute the same function as the plain formulation.

Folded attention, the per-image projection cache, the sub-pixel upscaling and the OpenCV
mask resize are all rearrangements of the same arithmetic: each is checked here against a
direct implementation on random inputs and weights (the parity tests check the whole chain
against the reference's golden outputs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2.modeling.mask_decoder import MaskDecoder, _subpixel_to_image
from sam2.modeling.transformer import Attention
from sam2.utils.transforms import resize_mask_logits


def _plain_attention(attn: Attention, q, k, v):
    """Project all of q, k and v, then scaled dot-product attention: the textbook form."""
    qh = attn.split_heads(attn.q_proj(q))
    kh = attn.split_heads(attn.k_proj(k))
    vh = attn.split_heads(attn.v_proj(v))
    weights = (qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5).softmax(dim=-1)
    return attn.out_proj(attn.merge_heads(weights @ vh))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture()
def attn():
    torch.manual_seed(0)
    module = Attention(256, 8, downsample_rate=2).eval()
    for p in module.parameters():  # non-trivial biases: the folding must account for them
        torch.nn.init.normal_(p, std=0.1)
    return module


@pytest.mark.parametrize("batch", [1, 3])
def test_folded_attention_matches_plain(attn, batch):
    tokens = torch.randn(batch, 7, 256)
    image, image_values = torch.randn(batch, 4096, 256), torch.randn(batch, 4096, 256)
    with torch.no_grad():
        # tokens read the image (few queries) and the image reads the tokens (few keys)
        assert attn._folding_pays(few=7, many=4096)
        assert _rel(attn(tokens, image, image_values), _plain_attention(attn, tokens, image, image_values)) < 1e-5
        assert _rel(attn(image, tokens, tokens), _plain_attention(attn, image, tokens, tokens)) < 1e-5


def test_folding_is_skipped_when_it_does_not_pay(attn):
    many_tokens = torch.randn(1, 20, 256)  # 20 tokens x 8 heads > 128 channels
    image = torch.randn(1, 4096, 256)
    assert not attn._folding_pays(few=20, many=4096)
    with torch.no_grad():
        assert _rel(attn(many_tokens, image, image), _plain_attention(attn, many_tokens, image, image)) < 1e-5


def test_bfloat16_folded_products_stay_close(attn):
    tokens, image = torch.randn(2, 6, 256), torch.randn(2, 4096, 256)
    with torch.no_grad():
        exact = attn(image, tokens, tokens)
        attn.matmul_dtype = torch.bfloat16
        fast = attn(image, tokens, tokens)
    assert fast.dtype == torch.float32
    assert _rel(fast, exact) < 2e-2


@pytest.fixture()
def decoder():
    torch.manual_seed(1)
    module = MaskDecoder().eval()
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.05)
    return module


def _decoder_inputs(batch: int):
    torch.manual_seed(2)
    image = torch.randn(1, 256, 64, 64)
    pe = torch.randn(1, 256, 64, 64)
    dense = torch.randn(1, 256, 1, 1).expand(1, 256, 64, 64)
    sparse = torch.randn(batch, 3, 256)
    high_res = [torch.randn(1, 32, 256, 256), torch.randn(1, 64, 128, 128)]
    return image, pe, dense, sparse, high_res


@pytest.mark.parametrize("batch", [1, 4])
def test_projected_image_and_skips_give_the_same_masks(decoder, batch):
    image, pe, dense, sparse, high_res = _decoder_inputs(batch)
    with torch.no_grad():
        plain = decoder(image, pe, sparse, dense.expand(batch, -1, -1, -1), multimask_output=True,
                        repeat_image=batch > 1, high_res_features=high_res)
        cached = decoder(None, pe, sparse, None, multimask_output=True, repeat_image=batch > 1,
                         projected=decoder.project_image(image, pe, dense),
                         skips=decoder.prepare_skips(high_res, 64, 64))
    assert plain.masks.shape == cached.masks.shape == (batch, 3, 256, 256)
    assert _rel(cached.masks, plain.masks) < 1e-5
    assert _rel(cached.iou_pred, plain.iou_pred) < 1e-5
    assert _rel(cached.sam_tokens_out, plain.sam_tokens_out) < 1e-5


@pytest.mark.parametrize("with_high_res", [True, False])
def test_subpixel_upscaling_matches_transposed_convolutions(decoder, with_high_res):
    decoder.use_high_res_features = with_high_res
    up1, norm1, act1, up2, act2 = decoder.output_upscaling
    tokens = torch.randn(2, 64 * 64, 256)
    high_res = [torch.randn(2, 32, 256, 256), torch.randn(2, 64, 128, 128)]
    with torch.no_grad():
        x = up1(tokens.transpose(1, 2).reshape(2, 256, 64, 64))
        if with_high_res:
            x = x + high_res[1]
        x = up2(act1(norm1(x)))
        if with_high_res:
            x = x + high_res[0]
        expected = act2(x)
        ours = decoder._upscale(tokens, decoder.prepare_skips(high_res if with_high_res else None, 64, 64))
    assert ours.shape == (2, 16 * 64 * 64, 32)
    image_order = _subpixel_to_image(ours.transpose(1, 2), 64, 64)
    assert _rel(image_order, expected) < 1e-5


def test_mask_resize_matches_torch_bilinear():
    torch.manual_seed(3)
    logits = torch.randn(2, 3, 256, 256) * 8
    for size in [(1200, 1800), (37, 500), (256, 256)]:
        ours = resize_mask_logits(logits, size)
        ref = F.interpolate(logits, size, mode="bilinear", align_corners=False)
        assert ours.shape == ref.shape and ours.dtype == torch.float32
        assert _rel(ours, ref) < 5e-5  # OpenCV's interpolation weights differ in the last bits
        assert float(((ours > 0) != (ref > 0)).float().mean()) < 1e-4
    assert resize_mask_logits(torch.zeros(0, 3, 256, 256), (10, 10)).shape == (0, 3, 10, 10)
    # a size OpenCV cannot take falls back to PyTorch
    wide = resize_mask_logits(logits[:1, :1, :4, :4], (2, 40000))
    assert np.allclose(wide.numpy(), F.interpolate(logits[:1, :1, :4, :4], (2, 40000), mode="bilinear",
                                                   align_corners=False).numpy())


def test_fpn_levels_with_composed_heads_match_neck_then_heads():
    from sam2.configs import get_config
    from sam2.modeling.image_encoder import ImageEncoder

    torch.manual_seed(4)
    encoder = ImageEncoder(get_config("sam2.1_hiera_t")).eval()
    for p in encoder.neck.parameters():
        torch.nn.init.normal_(p, std=0.1)
    heads = {0: torch.nn.Conv2d(256, 32, 1), 1: torch.nn.Conv2d(256, 64, 1)}
    dims = encoder.trunk.channel_list[::-1]  # high-res first
    maps = [torch.randn(1, c, 64 // 2 ** i, 64 // 2 ** i) for i, c in enumerate(dims)]
    with torch.no_grad():
        plain, plain_pos = encoder.neck(maps)
        composed, pos = encoder.neck(maps, level_heads=heads)
    for level, head in heads.items():
        with torch.no_grad():
            expected = head(plain[level])
        assert composed[level].shape == expected.shape
        assert _rel(composed[level], expected) < 1e-5
        assert torch.equal(pos[level], plain_pos[level])
    for level in (2, 3):  # levels with top-down fusion are untouched
        assert torch.equal(composed[level], plain[level])
