"""A reusable buffer for the largest short-lived tensors of the image encoder on the CPU.

Hiera's first stages produce a few very large intermediates per image: the qkv projection
(up to 151 MB in float32 for Hiera-T at 1024 x 1024) and the MLP's hidden layer (100 MB).
Above glibc's 32 MB mmap threshold every such tensor is fresh memory from the kernel, and
faulting its pages in costs about as much as the GEMM that fills it: a 65536 x 96 x 576
float32 linear layer takes 80 ms into fresh memory and 41 ms into memory already mapped, on
a 2-core CPU. Those intermediates never outlive the block that makes them and never overlap
in time (the qkv is dead once attention has read it, before the MLP runs), so one buffer,
kept across images, can hold each of them in turn.

The buffer is used only where that is safe and useful: on the CPU (CUDA's caching
allocator already reuses memory), under ``torch.no_grad`` or ``torch.inference_mode`` only
(autograd may save what would be overwritten), outside autocast, up to ``max_bytes``, and
by one thread at a time (a concurrent caller simply allocates as usual).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator, Optional

import torch
from torch import nn


class Workspace:
    """One growable byte buffer, lent to one caller at a time (see the module docstring)."""

    def __init__(self, max_bytes: int = 512 << 20) -> None:
        self.max_bytes = max_bytes
        self._bytes: Optional[torch.Tensor] = None
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held now (0 until first used)."""
        return 0 if self._bytes is None else self._bytes.numel()

    def release(self) -> None:
        """Give the memory back (the next use allocates it again)."""
        with self._lock:
            self._bytes = None

    @contextmanager
    def borrow(self, numel: int, like: torch.Tensor) -> Iterator[Optional[torch.Tensor]]:
        """A flat tensor of ``numel`` elements of ``like``'s dtype for the duration of the
        ``with`` block, or ``None`` where the workspace does not apply (see module docstring).

        The contents are garbage; whatever is written must be dead when the block ends.
        """
        nbytes = numel * like.element_size()
        usable = (
            like.device.type == "cpu"
            and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and nbytes <= self.max_bytes
        )
        if not usable or not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            if self._bytes is None or self._bytes.numel() < nbytes:
                self._bytes = None  # free the old buffer before allocating the larger one
                self._bytes = torch.empty(nbytes, dtype=torch.uint8)
            yield self._bytes[:nbytes].view(like.dtype)
        finally:
            self._lock.release()

    # A lock can be neither copied nor pickled: a copied model gets an empty workspace.
    def __deepcopy__(self, memo) -> "Workspace":
        return Workspace(self.max_bytes)

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, pickled: dict) -> None:
        self.__init__(pickled["max_bytes"])


def borrow(workspace: Optional[Workspace], numel: int, like: torch.Tensor):
    """``workspace.borrow(numel, like)``, or a context giving ``None`` without a workspace."""
    return nullcontext(None) if workspace is None else workspace.borrow(numel, like)


def linear_into(x: torch.Tensor, layer: nn.Linear, buffer: Optional[torch.Tensor]) -> torch.Tensor:
    """``layer(x)``, written into the front of the flat ``buffer`` when one is given.

    The same kernel as ``nn.Linear`` on a contiguous input (addmm), so the same bits; other
    inputs, which ``nn.Linear`` may route differently, are left to it.
    """
    if buffer is None or not x.is_contiguous():
        return layer(x)
    weight = layer.weight  # read once: an int8 layer dequantises it on every read (sam2.modeling.int8)
    if x.dtype != weight.dtype:
        return layer(x)
    rows = x.numel() // x.shape[-1]
    out = buffer[: rows * layer.out_features].view(rows, layer.out_features)
    x2d = x.reshape(rows, x.shape[-1])
    if layer.bias is None:
        torch.mm(x2d, weight.t(), out=out)
    else:
        torch.addmm(layer.bias, x2d, weight.t(), out=out)
    return out.view(*x.shape[:-1], layer.out_features)


def output_numel(x: torch.Tensor, layer: nn.Linear) -> int:
    """Elements of ``layer(x)``."""
    return x.numel() // x.shape[-1] * layer.out_features
