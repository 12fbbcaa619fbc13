"""How many bytes of array data an object holds (numpy arrays, torch tensors and large byte
strings, however nested).

The session budget (``ui.common.session_limits``) weighs each session by what it keeps: the picture,
its embedding, candidate masks, a clip's frames, the tracker's memory. Those are all numpy
arrays or torch tensors inside dataclasses, dicts, lists and small caches, so a walk over
the object graph that adds up their buffers measures a session without each class having to
report its own size. Buffers shared by several arrays (views, a tensor and its slices) are
counted once. Byte strings of at least ``MIN_BYTES`` count too: packed masks (a tracked clip's
masks, the undo history's copies of them) and JPEG frames are ``bytes``. Models
(``torch.nn.Module``), threads, locks, modules and functions are not walked: they are shared
by all sessions or hold no data of one.
"""

from __future__ import annotations

import types
from typing import Any, Set

#: Walk at most this many objects per call (a bound on the cost, far above a session's count).
MAX_OBJECTS = 200_000

#: ``bytes`` shorter than this are names and small values, not a session's data.
MIN_BYTES = 256

_SKIP_TYPES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
               str, bytes, int, float, bool, complex, type(None))


def array_bytes(root: Any) -> int:
    """Bytes of the numpy / torch buffers reachable from ``root`` (each buffer once)."""
    import numpy as np

    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the app
        torch = None  # type: ignore[assignment]
    total = 0
    seen: Set[int] = set()
    buffers: Set[int] = set()
    stack = [root]
    visited = 0
    while stack and visited < MAX_OBJECTS:
        obj = stack.pop()
        if type(obj) is bytes and len(obj) >= MIN_BYTES and id(obj) not in seen:
            seen.add(id(obj))  # the same bytes object held twice (a history step) counts once
            total += len(obj)
            continue
        if isinstance(obj, _SKIP_TYPES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) not in buffers:
                buffers.add(id(base))
                total += base.nbytes
            continue
        if isinstance(obj, (bytearray, memoryview)):
            total += len(obj)
            continue
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                try:
                    storage = obj.untyped_storage()
                    key = storage.data_ptr()
                    if key not in buffers:
                        buffers.add(key)
                        total += storage.nbytes()
                except (RuntimeError, NotImplementedError):  # meta / sparse tensors
                    pass
                continue
            if isinstance(obj, torch.nn.Module):
                continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
            stack.extend(k for k in obj.keys() if not isinstance(k, _SKIP_TYPES))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        else:
            module = type(obj).__module__ or ""
            if module.startswith(("threading", "_thread", "logging", "gradio", "subprocess", "io")):
                continue
            fields = getattr(obj, "__dict__", None)
            if isinstance(fields, dict):
                stack.extend(fields.values())
            for name in getattr(type(obj), "__slots__", ()) or ():
                if isinstance(name, str):
                    stack.append(getattr(obj, name, None))
    return total
