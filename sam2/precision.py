"""Choosing the arithmetic: exact float32, or bfloat16 where the hardware makes it pay.

* ``"exact"`` (the default of the library): float32 everywhere; the same numbers as the
  reference implementation within the parity tolerances.
* ``"fast"``: the heavy matmul work (image encoder) in bfloat16 where the device has fast
  bfloat16 units (CUDA with compute capability >= 8, CPUs with AVX512-BF16 or AMX);
  elsewhere it falls back to float32, since emulated bfloat16 is slower than float32.
  Prompt encoding, mask decoding, post-processing and all outputs stay float32.
* ``"auto"``: ``"fast"`` on such hardware, ``"exact"`` otherwise (what the app uses).
* ``"int8"``: linear and convolution weights stored as 8-bit integers (a quarter of the
  float32 bytes, see ``sam2.modeling.int8``), for big models in small memory; the
  arithmetic is float32 on the dequantised weights, so the only change from exact is the
  weights' rounding (masks within IoU 0.95 of exact on the parity inputs).
"""

from __future__ import annotations

from typing import Union

import torch

PRECISIONS = ("exact", "fast", "auto", "int8")


def bfloat16_is_fast(device: Union[str, torch.device]) -> bool:
    """Whether bfloat16 matmuls run on native units of ``device`` (not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return False


def resolve_compute_dtype(precision: str, device: Union[str, torch.device]) -> torch.dtype:
    """The dtype of the heavy layers for ``precision`` on ``device``."""
    if precision in (None, "exact", "float32", "fp32", "int8"):
        return torch.float32
    if precision in ("fast", "auto", "bfloat16", "bf16"):
        return torch.bfloat16 if bfloat16_is_fast(device) else torch.float32
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def weights_are_int8(precision: str) -> bool:
    """Whether ``precision`` stores the linear and convolution weights as int8."""
    return precision == "int8"
