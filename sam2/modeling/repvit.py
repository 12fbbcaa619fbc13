"""RepViT-M1: the mobile CNN image trunk of EdgeTAM.

EdgeTAM takes its trunk from timm (``repvit_m1.dist_in1k``, features of its four stages);
timm is not a dependency here, so this is our own implementation of the same function
under the same state-dict names (``body.stem.conv1.c.weight``, ``body.stages_2.blocks.0
.token_mixer.conv.bn.running_var``, ...), so that an EdgeTAM checkpoint loads strictly.

Every convolution is followed by a BatchNorm. Two ways to run them:

* Exact (the default; ``fold_batchnorm(False)``): the reference's arithmetic, operation for
  operation: convolution, then BatchNorm, then GELU, the token mixer's three branches
  summed, the squeeze-excitation's mean over an NCHW map. On the parity inputs the trunk's
  maps then equal timm's bit for bit (2 threads). Anything less is not enough there: with
  random weights the maps reach 1e7, what distinguishes one tracked object from another is
  near float32's resolution at that scale, and rounding-level differences (folding alone
  gave 2e-6 relative) flipped the "is the object visible" decision of a tracked frame.
* Folded (fast mode; ``fold_batchnorm(True)``): in eval mode a BatchNorm is an affine map
  per channel, so it is folded into the convolution before it; the RepVGG-style token
  mixer (depthwise 3x3 + depthwise 1x1 + identity, summed) is then one depthwise 3x3
  convolution, and GELUs are fused into the convolutions. The folds are computed in float32
  from the loaded weights (on construction, after every ``load_state_dict``, and when the
  trunk returns to eval mode after training) and kept in non-persistent buffers, so the
  state dict keeps the checkpoint's layout. Equal to the unfolded network up to float
  rounding. Training mode runs the unfolded layers.

The trunk runs channels-last (NHWC) in both modes: oneDNN's depthwise and 1x1 convolutions
need about half the CPU time they need on NCHW maps (trunk at 1024 px, float32, 2
threads: 1.37 -> 0.70 CPU-seconds; depthwise 3x3 at 256 x 256 several times less).
BatchNorm, the residual adds and the depthwise convolutions give the same numbers bit
for bit on either layout; three operations may not, and exact mode works around each:
a GELU on a channels-last map takes ATen's own kernel where an NCHW one takes oneDNN's
(2.6 % of values differ in the last bit), so it is applied to the map's NHWC view
(contiguous, so oneDNN's kernel, in place); a mean over the map sums in another order, so
it is taken of an NCHW copy; and convolutions with long reductions (at 2 threads on the
machine measured: the stem's second convolution and the 1x1 convolutions over 192
channels or more; at 1 thread only the stem's) sum in another order, so each
convolution is measured once against its NCHW result and, where they differ, runs on an
NCHW copy (``conv_as_reference``). The token mixer's depthwise 1x1 branch is one product
per value, computed as a multiplication (``_is_channel_scale``). Fast mode's outputs
stay channels-last; exact mode hands NCHW maps to the neck (see ``RepViT.forward``).

It also stays in float32 in the fast (bfloat16) precision, though not for lack of speed:
oneDNN's bfloat16 convolutions take a third of the float32 time on an AVX512-BF16 CPU
(trunk at 1024 px, 1 thread, CPU-seconds: 0.49 -> 0.16, folded in float32 and rounded
once), but on the EdgeTAM parity inputs (seeded random weights, whose activations grow to
1e5-1e6) fast-vs-exact image mask IoU then fell to 0.10-0.51, far below the 0.97 that
``tests/test_edgetam_precision.py`` asks. So the trunk takes and returns the caller's
dtype but computes in its own (``keeps_float32``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import RepViTConfig
from sam2.modeling.common import activate_in_place, add_into_branch, may_write_in_place

_GELU = nn.GELU()


def _bn_scale_shift(bn: nn.BatchNorm2d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Float32 (scale, shift) with bn(x) == x * scale + shift in eval mode."""
    scale = bn.weight.float() * torch.rsqrt(bn.running_var.float() + bn.eps)
    return scale, bn.bias.float() - bn.running_mean.float() * scale


class FoldedConv(nn.Module):
    """A unit that, in eval mode, runs as one convolution with a folded weight and bias.

    Subclasses say how to run unfolded (``forward_unfolded``) and how to fold
    (``fold``: float32 weight and bias); ``refold`` stores the fold in the module's dtype.
    """

    stride: int = 1
    padding: int = 0
    groups: int = 1
    # exact by default; RepViT.fold_batchnorm switches every unit of a trunk
    folded: bool = False

    def _init_fold_buffers(self) -> None:
        self.register_buffer("folded_weight", torch.empty(0), persistent=False)
        self.register_buffer("folded_bias", torch.empty(0), persistent=False)

    def fold(self) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward_unfolded(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def refold(self) -> None:
        weight, bias = self.fold()
        dtype = self._param_dtype()
        self.folded_weight = weight.to(dtype).contiguous(memory_format=torch.channels_last)
        self.folded_bias = bias.to(dtype)

    def _param_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.folded:
            return self.forward_unfolded(x)
        return F.conv2d(x, self.folded_weight, self.folded_bias, self.stride, self.padding, 1, self.groups)

    def forward_gelu(self, x: torch.Tensor) -> torch.Tensor:
        """``gelu(self(x))``; on the CPU in eval mode one oneDNN convolution with the (exact,
        erf) GELU as its post-op, so each output is activated while still in cache.

        ATen's float32 GELU is slow on large inputs (on the random-weight maps, whose values
        reach 1e3-1e5, 3x slower than on unit-scale ones): it was a fifth of the trunk's time.
        The fused result equals conv-then-GELU to float rounding (relative 1e-9). Unfolded
        (exact), the reference's GELU (see ``gelu_as_reference``).
        """
        if self.training or not self.folded:
            return gelu_as_reference(self(x), self.training)
        if not _fused_gelu_applies(x, self.folded_weight):
            return activate_in_place(_GELU, self(x))
        pad, stride = [self.padding] * 2, [self.stride] * 2
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.folded_weight, self.folded_bias, pad, stride, [1, 1], self.groups, "gelu", [], "none")


def _fused_gelu_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether oneDNN's fused convolution + GELU can run ``x`` (float32 on a CPU with oneDNN,
    no autograd needed)."""
    return (_HAS_FUSED_CONV and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and not (torch.is_grad_enabled() and x.requires_grad))


_HAS_FUSED_CONV = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def gelu_as_reference(x: torch.Tensor, training: bool = False) -> torch.Tensor:
    """``gelu(x)`` (a fresh map nothing else holds) with the numbers the reference gets on
    its NCHW maps, bit for bit: PyTorch runs a GELU on a contiguous tensor with oneDNN's
    kernel and on a channels-last one with its own, and the two differ in the last bit of
    2.6 % of the values. A channels-last map's NHWC view is contiguous, so it takes the
    first kernel too (in place where autograd allows)."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        view = x.permute(0, 2, 3, 1)
        if may_write_in_place(training, x):
            torch.ops.aten.gelu_(view)
            return x
        return F.gelu(view).permute(0, 3, 1, 2)
    return activate_in_place(_GELU, x) if may_write_in_place(training, x) else F.gelu(x)


def conv_as_reference(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` with the numbers the reference gets on its NCHW maps, bit for bit, for a
    channels-last ``x``; the result is channels-last.

    oneDNN convolves channels-last maps about twice as fast as NCHW ones at the trunk's
    high resolutions (depthwise 3x3 at 256 x 256: several times), and for most of the
    trunk's convolutions with the same numbers: each output sums its inputs in the same
    order. Not for all: on the CPU where this was measured (2 threads), every convolution
    whose reduction is long (the stem's second 3x3 over 24 channels, the 1x1 convolutions
    over 192 channels or more) sums in another order on channels-last maps (5e-7 to 1e-6
    relative), which is enough to flip the reference's knife-edge decisions (see the
    module docstring). Which ones differ depends on the CPU's oneDNN kernels and the
    thread count, so it is not written down here but measured: the first time a
    convolution meets an input shape (per thread count), it runs both ways; where they
    agree it runs channels-last from then on, else on an NCHW copy of its input, as the
    reference does. Inputs that are NCHW already, or that autograd tracks, convolve as
    they are.
    """
    tracked = torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad)
    if not tracked and _is_channel_scale(conv):
        return x * conv.weight.view(1, -1, 1, 1)
    if tracked or x.dim() != 4 or x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return conv(x)
    key = (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.groups,
           tuple(x.shape), x.dtype, x.device.type, torch.get_num_threads())
    same = _LAYOUT_FREE.get(key)
    if same is None:
        reference = conv(x.contiguous())
        same = torch.equal(conv(x), reference)
        if len(_LAYOUT_FREE) > _LAYOUT_FREE_LIMIT:
            _LAYOUT_FREE.clear()
        _LAYOUT_FREE[key] = same
        return reference.contiguous(memory_format=torch.channels_last)
    if same:
        return conv(x)
    return conv(x.contiguous()).contiguous(memory_format=torch.channels_last)


def _is_channel_scale(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` is a depthwise 1x1 convolution without bias (the token mixer's second
    branch): each output is one product ``weight[c] * x[c]``, a single rounding whichever
    way it is computed, so an elementwise multiplication gives the same numbers. PyTorch
    runs it as a convolution through its generic path at one thread, one small matrix
    product per channel (4155 calls per 1024 px image); the multiplication is one pass."""
    return (conv.kernel_size == (1, 1) and conv.groups == conv.in_channels == conv.out_channels
            and conv.bias is None and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.dilation == (1, 1))


# (convolution's geometry, input shape, dtype, device, threads) -> channels-last gives the
# NCHW numbers (oneDNN picks its kernel, hence its order of summation, from these)
_LAYOUT_FREE: Dict[Tuple, bool] = {}
_LAYOUT_FREE_LIMIT = 4096  # a few trunks at a few input sizes; cleared (measured again) past it


class ConvNorm(FoldedConv):
    """Convolution without bias followed by BatchNorm (timm's ``c`` / ``bn`` names)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 1, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.stride, self.padding, self.groups = stride, (kernel_size - 1) // 2, groups
        self.c = nn.Conv2d(in_dim, out_dim, kernel_size, stride, self.padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_dim)
        self._init_fold_buffers()
        self.refold()

    def fold(self) -> Tuple[torch.Tensor, torch.Tensor]:
        scale, shift = _bn_scale_shift(self.bn)
        return self.c.weight.float() * scale[:, None, None, None], shift

    def forward_unfolded(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(conv_as_reference(self.c, x))


class RepDepthwise(FoldedConv):
    """Token mixer: depthwise 3x3 (+BN) plus depthwise 1x1 (+BN) plus the input itself.

    Folded, the three branches are one depthwise 3x3 convolution: the 1x1 kernel and the
    identity (a 1 at the kernel's centre) are added to the centre tap.
    """

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.padding, self.groups = (kernel_size - 1) // 2, dim
        self.conv = ConvNorm(dim, dim, kernel_size, groups=dim)
        self.conv1 = ConvNorm(dim, dim, 1, groups=dim)
        self._init_fold_buffers()
        self.refold()

    def fold(self) -> Tuple[torch.Tensor, torch.Tensor]:
        weight, bias = self.conv.fold()
        point_weight, point_bias = self.conv1.fold()
        centre = self.padding
        weight = weight.clone()
        weight[:, :, centre, centre] += point_weight[:, :, 0, 0] + 1.0
        return weight, bias + point_bias

    def forward_unfolded(self, x: torch.Tensor) -> torch.Tensor:
        # (3x3 branch + 1x1 branch) + x, the reference's order, summed into the fresh 3x3
        # branch where autograd allows (no two map-sized temporaries)
        y = self.conv(x)
        if not may_write_in_place(self.training, y, x):
            return y + self.conv1(x) + x
        return y.add_(self.conv1(x)).add_(x)


class SqueezeExcite(nn.Module):
    """Channel gating: x * sigmoid(fc2(relu(fc1(mean over the map))))."""

    exact_mean: bool = True  # see RepViT.fold_batchnorm

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._gate(x)

    def gate_fresh(self, x: torch.Tensor) -> torch.Tensor:
        """``self(x)`` for a map that nothing else holds (the token mixer's output), gated in
        place in inference: no second map-sized buffer (12 MB at stage 0 of a 1024 px
        image, whose fresh pages cost more than the multiplication)."""
        return x.mul_(self._gate(x)) if may_write_in_place(self.training, x) else self(x)

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        # The mean of an NCHW map, as the reference takes it: over a channels-last map the
        # sum runs in another order (float rounding; a 3 MB copy at most, at stage 0).
        # Fast mode (``exact_mean`` off) keeps the layout.
        source = x.contiguous() if self.exact_mean else x
        return self.fc2(F.relu(self.fc1(source.mean((2, 3), keepdim=True)))).sigmoid()


def _se_hidden(dim: int, ratio: float, divisor: int = 8) -> int:
    """timm's ``make_divisible(dim * ratio, 8)``: round to a multiple of 8, never 10 % below."""
    value = dim * ratio
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvMlp(nn.Module):
    """1x1 expand (+BN), GELU, 1x1 project (+BN)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.conv1 = ConvNorm(dim, hidden)
        self.conv2 = ConvNorm(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1.forward_gelu(x))

    def add_to(self, x: torch.Tensor) -> torch.Tensor:
        """``x + self(x)``, the residual MLP step of a block.

        In inference, for a channels-last map that nothing else holds (the block's fresh
        intermediate), it runs band by band of rows and adds each band's result into ``x``
        in place: the convolutions are 1x1, so a band needs only its own rows, and the
        hidden map (twice the input's channels, up to 25 MB at 1024 px) then lives in a
        cache-sized buffer that the allocator hands back band after band, instead of fresh
        pages for every block. Same per-pixel arithmetic as the whole-map form.
        """
        # exact mode (unfolded) takes whole maps: a band's NCHW copy need not convolve in
        # the order the whole map does (see ``conv_as_reference``)
        if not may_write_in_place(self.training, x) or x.dim() != 4 or not self.conv1.folded \
                or not x.is_contiguous(memory_format=torch.channels_last):
            return add_into_branch(self(x), x, self.training)
        height = x.shape[2]
        row_bytes = x.shape[0] * x.shape[3] * self.conv1.folded_weight.shape[0] * x.element_size()
        rows = max(1, min(height, _BAND_BYTES // max(1, row_bytes)))
        for top in range(0, height, rows):
            band = x[:, :, top:top + rows]
            band.add_(self(band))
        return x


# hidden-map bytes per band of ConvMlp.add_to. Trunk at 1024 px, float32, 2 threads, paired
# runs in one process: whole maps 0.136-0.147 s; bands of 0.5 MB 0.170, 2 MB 0.131, 4 MB
# 0.121, 8 MB 0.117-0.121, 16 MB 0.126 (bit-identical outputs)
_BAND_BYTES = 8 << 20


class RepViTBlock(nn.Module):
    """Token mixer, optional squeeze-excitation, then a residual channel MLP."""

    def __init__(self, dim: int, mlp_ratio: int, kernel_size: int, se_hidden: Optional[int]) -> None:
        super().__init__()
        self.token_mixer = RepDepthwise(dim, kernel_size)
        self.se = SqueezeExcite(dim, se_hidden) if se_hidden else None
        self.channel_mixer = ConvMlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.token_mixer(x)
        if self.se is not None:
            x = self.se.gate_fresh(x)
        return self.channel_mixer.add_to(x)


class Downsample(nn.Module):
    """A block, a stride-2 depthwise convolution, a 1x1 widening, and a residual MLP."""

    def __init__(self, in_dim: int, out_dim: int, mlp_ratio: int, kernel_size: int) -> None:
        super().__init__()
        self.pre_block = RepViTBlock(in_dim, mlp_ratio, kernel_size, se_hidden=None)
        self.spatial_downsample = ConvNorm(in_dim, in_dim, kernel_size, stride=2, groups=in_dim)
        self.channel_downsample = ConvNorm(in_dim, out_dim)
        self.ffn = ConvMlp(out_dim, out_dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channel_downsample(self.spatial_downsample(self.pre_block(x)))
        return self.ffn.add_to(x)


class Stem(nn.Module):
    """Two stride-2 3x3 convolutions (+BN) with a GELU between: stride 4."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.conv1 = ConvNorm(3, out_dim // 2, 3, stride=2)
        self.conv2 = ConvNorm(out_dim // 2, out_dim, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1.forward_gelu(x))


class Stage(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, depth: int, cfg: RepViTConfig, downsample: bool) -> None:
        super().__init__()
        self.downsample = Downsample(in_dim, out_dim, cfg.mlp_ratio, cfg.kernel_size) if downsample else None
        hidden = _se_hidden(out_dim, cfg.se_ratio)
        self.blocks = nn.Sequential(*(
            RepViTBlock(out_dim, cfg.mlp_ratio, cfg.kernel_size, hidden if i % 2 == 0 else None)
            for i in range(depth)
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        return self.blocks(x)


class RepViTBody(nn.Module):
    """Stem and stages under timm's feature-extractor names (``stages_0`` ... ``stages_3``)."""

    def __init__(self, cfg: RepViTConfig) -> None:
        super().__init__()
        self.stem = Stem(cfg.embed_dims[0])
        in_dim = cfg.embed_dims[0]
        for i, (dim, depth) in enumerate(zip(cfg.embed_dims, cfg.depths)):
            self.add_module(f"stages_{i}", Stage(in_dim, dim, depth, cfg, downsample=i > 0))
            in_dim = dim
        self.num_stages = len(cfg.embed_dims)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.stem(x)
        out = []
        for i in range(self.num_stages):
            x = getattr(self, f"stages_{i}")(x)
            out.append(x)
        return out


class RepViT(nn.Module):
    """The trunk: one B x C x H x W map per stage (strides 4, 8, 16, 32), high-res first."""

    # SAM2Base.set_compute_dtype leaves this trunk in float32 (see the module docstring)
    keeps_float32 = True

    def __init__(self, cfg: RepViTConfig) -> None:
        super().__init__()
        self.body = RepViTBody(cfg)
        self.channel_list = list(cfg.channel_list)
        self._fold_stale = False
        self.register_load_state_dict_post_hook(lambda module, _incompatible: module.refold())

    @torch.no_grad()
    def refold(self) -> None:
        """Recompute every folded convolution from the current weights."""
        for module in self.modules():
            if isinstance(module, FoldedConv):
                module.refold()
        self._fold_stale = False

    def fold_batchnorm(self, folded: bool) -> "RepViT":
        """Run folded (fast: one convolution per unit, fused GELUs) or as the reference does
        (exact, the default); see the module docstring."""
        for module in self.modules():
            if isinstance(module, FoldedConv):
                module.folded = folded
            elif isinstance(module, SqueezeExcite):
                module.exact_mean = not folded
        return self

    @property
    def batchnorm_folded(self) -> bool:
        return self.body.stem.conv1.folded

    def train(self, mode: bool = True) -> "RepViT":
        super().train(mode)
        if mode:
            self._fold_stale = True  # weights may change; fold again when back in eval
        elif self._fold_stale:
            self.refold()
        return self

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        dtype = self.body.stem.conv1.c.weight.dtype
        out = self.body(x.to(dtype).contiguous(memory_format=torch.channels_last))
        if self.batchnorm_folded:
            # Handed on channels-last, as computed: the neck's 1x1 convolutions read either
            # layout, and their outputs (fewer channels) are what gets made NCHW.
            return [f.to(x.dtype) for f in out]
        # Exact: NCHW, as the reference hands them to its neck, whose wide 1x1 convolutions
        # sum in another order on channels-last maps.
        return [f.to(x.dtype).contiguous() for f in out]
