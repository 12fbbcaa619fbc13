"""Hugging Face Spaces (ZeroGPU) support that degrades to nothing elsewhere.

On a ZeroGPU Space the ``spaces`` package must be imported before torch touches CUDA, and
GPU work must sit in functions decorated with ``spaces.GPU``. Those functions run in a
forked worker: arguments and results are pickled, so they must be pure (CPU data in, CPU
data out). Everywhere else the decorator is the identity and nothing changes.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable)

try:  # pragma: no cover - only present on Hugging Face Spaces
    import spaces as _spaces
except Exception:  # noqa: BLE001 - any import failure means "not on a Space"
    _spaces = None

#: True on a ZeroGPU Space: features must then travel between processes as CPU tensors.
ZERO_GPU: bool = _spaces is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in {
    "1",
    "true",
}

#: True when running inside any Hugging Face Space (``SPACE_ID`` is set there).
ON_SPACES: bool = bool(os.environ.get("SPACE_ID"))


def gpu(duration: Optional[int] = None) -> Callable[[F], F]:
    """``spaces.GPU(duration=...)`` when the ``spaces`` package is present, identity otherwise."""

    def wrap(fn: F) -> F:
        if _spaces is None:
            return fn
        if duration is None:
            return _spaces.GPU(fn)
        return _spaces.GPU(duration=duration)(fn)

    return wrap
