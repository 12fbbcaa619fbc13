"""The image encoder's reusable workspace: same bits, no aliasing, used only where safe."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from sam2.configs import HieraConfig
from sam2.modeling.hiera import Hiera, max_pool_hw
from sam2.modeling.workspace import Workspace, linear_into

# Small but complete: windowed and global blocks, padded windows (8 tokens, window 3), two
# pooling stage transitions and one that widens without pooling (q_pool=2).
_SMALL = HieraConfig(embed_dim=16, num_heads=1, stages=(1, 2, 2, 1), global_att_blocks=(3,),
                     window_pos_embed_bkg_spatial_size=(4, 4), window_spec=(4, 2, 3, 2), q_pool=2)


def _trunk(dtype: torch.dtype = torch.float32) -> Hiera:
    torch.manual_seed(0)
    trunk = Hiera(_SMALL)
    with torch.no_grad():
        trunk.pos_embed.normal_()
        trunk.pos_embed_window.normal_()
    return trunk.eval().to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hiera_with_workspace_computes_the_same_bits_and_keeps_no_alias(dtype):
    trunk = _trunk(dtype)
    images = [torch.randn(1, 3, 128, 128).to(dtype) for _ in range(2)]
    workspace, trunk.workspace = trunk.workspace, None
    with torch.no_grad():
        expected = [trunk(image) for image in images]
        trunk.workspace = workspace
        first = trunk(images[0])
        held = workspace.nbytes
        pointer = workspace._bytes.data_ptr()
        second = trunk(images[1])
    assert held > 0 and workspace.nbytes == held and workspace._bytes.data_ptr() == pointer  # reused
    for got, want in zip(first + second, expected[0] + expected[1]):
        assert torch.equal(got, want)  # the first image's maps survived the second image


def test_workspace_is_not_used_under_autograd_and_gradients_flow():
    trunk = _trunk()
    image = torch.randn(1, 3, 128, 128)
    outputs = trunk(image)
    sum(o.sum() for o in outputs).backward()
    assert trunk.workspace.nbytes == 0
    assert trunk.blocks[0].attn.qkv.weight.grad is not None


def test_a_busy_workspace_falls_back_to_fresh_memory():
    trunk = _trunk()
    image = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected = trunk(image)
        assert trunk.workspace.nbytes > 0
        with trunk.workspace.borrow(16, image) as held:  # e.g. another thread's encoder
            assert held is not None
            got = trunk(image)
            with trunk.workspace.borrow(16, image) as nested:
                assert nested is None
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_borrow_refuses_what_it_must_not_hold():
    workspace = Workspace(max_bytes=1 << 10)
    plain = torch.zeros(4)
    with workspace.borrow(8, plain) as buffer:
        assert buffer is None  # autograd is recording: it may save what would be overwritten
    with torch.no_grad():
        with workspace.borrow(256, plain) as buffer:
            assert buffer is not None and buffer.dtype == torch.float32 and buffer.numel() == 256
        with workspace.borrow(257, plain) as buffer:
            assert buffer is None  # over max_bytes
        with torch.autocast("cpu", dtype=torch.bfloat16), workspace.borrow(8, plain) as buffer:
            assert buffer is None
        with workspace.borrow(512, plain.bfloat16()) as buffer:  # same bytes, another dtype
            assert buffer.dtype == torch.bfloat16 and buffer.numel() == 512
    workspace.release()
    assert workspace.nbytes == 0


def test_models_with_a_workspace_copy_and_pickle():
    trunk = _trunk()
    with torch.no_grad():
        trunk(torch.randn(1, 3, 128, 128))
    for clone in (copy.deepcopy(trunk), pickle.loads(pickle.dumps(trunk))):
        assert isinstance(clone.workspace, Workspace) and clone.workspace.nbytes == 0
        with torch.no_grad(), clone.workspace.borrow(4, torch.zeros(1)) as buffer:
            assert buffer is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_into_a_buffer_is_bit_identical(dtype, bias):
    torch.manual_seed(0)
    layer = torch.nn.Linear(24, 40, bias=bias).to(dtype)
    x = torch.randn(2, 5, 7, 24).to(dtype)
    buffer = torch.full((2 * 5 * 7 * 40 + 11,), float("nan"), dtype=dtype)
    with torch.no_grad():
        got = linear_into(x, layer, buffer)
        assert got.data_ptr() == buffer.data_ptr() and got.shape == (2, 5, 7, 40)
        assert torch.equal(got, layer(x))
        assert torch.equal(linear_into(x.transpose(1, 2), layer, buffer), layer(x.transpose(1, 2)))
        assert torch.equal(linear_into(x, layer, None), layer(x))


@pytest.mark.parametrize("stride", [(2, 2), (3, 2), (1, 1)])
def test_max_pool_matches_torch_on_strided_views(stride):
    torch.manual_seed(0)
    qkv = torch.randn(3, 9, 7, 15)
    qkv[0, 1, 1, 2] = float("nan")
    x = qkv[..., 5:10]  # a strided slice, as the pooled queries are
    expected = F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=stride, stride=stride).permute(0, 2, 3, 1)
    got = max_pool_hw(x, stride)
    assert got.shape == expected.shape and got.is_contiguous()
    assert torch.equal(got.isnan(), expected.isnan())
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())


def test_the_workspace_serves_no_grad_and_inference_mode_callers_alike():
    # the image predictor runs under no_grad, the video predictor under inference_mode,
    # and an app may use one model for both
    trunk = _trunk()
    image = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        workspace, trunk.workspace = trunk.workspace, None
        expected = trunk(image)
        trunk.workspace = workspace
    for mode in (torch.inference_mode, torch.no_grad, torch.inference_mode, torch.no_grad):
        with mode():
            got = trunk(image)
        assert all(torch.equal(a, b) for a, b in zip(got, expected)), mode
    assert workspace.nbytes > 0
