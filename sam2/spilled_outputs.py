"""One object's tracked-frame outputs: the recent ones in RAM, older ones in a ``SpillStore``.

``SpilledFrameOutputs`` is the mapping ``frame index -> FrameOutput`` that a session uses for
a memory bank's ``non_cond_frame_outputs``. Tracking frame t reads the memories of the few
frames before it (``num_maskmem`` x the memory stride) and the object pointers of up to
``max_obj_ptrs_in_encoder`` frames before it, so a session keeps that many recently used
outputs in RAM (``capacity``) and hands the least recently used one to the store whenever
there is one too many. Reading a spilled frame gives a new ``FrameOutput`` with the same
bits (not kept: it is a correction on an old frame or a re-propagation's start, read once).

The tracker only calls ``get``/``[]``/``in``, so it does not know whether outputs are in RAM.
Values that the store cannot hold (anything but a session's compact ``FrameOutput``) stay in
RAM; so does everything once the store has failed (``SpillStore.error``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Iterator, List, MutableMapping, Optional, Union

import torch

from sam2.modeling.tracker import FrameOutput
from sam2.spill_store import SpillRecord, SpillStore

__all__ = ["SpilledFrameOutputs"]

_FIELDS = ("pred_masks", "obj_ptr", "object_score_logits", "maskmem_features")
_RAM_ONLY = ("pred_masks_high_res", "point_inputs", "mask_inputs")


class _Spilled:
    """A spilled output: its record, and whether it had the (shared) memory position encoding."""

    __slots__ = ("record", "has_pos")

    def __init__(self, record: SpillRecord, has_pos: bool) -> None:
        self.record = record
        self.has_pos = has_pos


class SpilledFrameOutputs(MutableMapping):
    """``frame index -> FrameOutput`` with at most ``capacity`` outputs in RAM (see module)."""

    def __init__(self, store: SpillStore, capacity: int, device: Optional[torch.device] = None) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.store = store
        self.capacity = int(capacity)
        self.device = device
        self._ram: "OrderedDict[int, Any]" = OrderedDict()  # least recently used first
        self._spilled: Dict[int, Union[_Spilled, Any]] = {}  # _Spilled, or a value kept in RAM
        self._pos_enc: Optional[List[torch.Tensor]] = None  # the shared memory position encoding

    # ------------------------------------------------------------------ mapping
    def __len__(self) -> int:
        return len(self._ram) + len(self._spilled)

    def __contains__(self, key: object) -> bool:
        return key in self._ram or key in self._spilled

    def __iter__(self) -> Iterator[int]:
        return iter(sorted([*self._ram, *self._spilled]))

    def __getitem__(self, key: int) -> Any:
        value = self._ram.get(key)
        if value is not None:
            self._ram.move_to_end(key)
            return value
        entry = self._spilled[key]  # KeyError for an unknown frame
        return self._read(entry) if isinstance(entry, _Spilled) else entry

    def get(self, key: int, default: Any = None) -> Any:
        if key in self._ram or key in self._spilled:
            return self[key]
        return default

    def __setitem__(self, key: int, value: Any) -> None:
        self._spilled.pop(key, None)
        self._ram[key] = value
        self._ram.move_to_end(key)
        while len(self._ram) > self.capacity:
            old_key, old = self._ram.popitem(last=False)
            self._spilled[old_key] = self._spill(old)

    def __delitem__(self, key: int) -> None:
        if self._ram.pop(key, None) is None:
            del self._spilled[key]

    def pop(self, key: int, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        self._ram.clear()
        self._spilled.clear()

    def __repr__(self) -> str:
        return f"SpilledFrameOutputs({len(self._ram)} in RAM, {len(self._spilled)} spilled, capacity {self.capacity})"

    # ------------------------------------------------------------------ spilling
    @property
    def num_in_ram(self) -> int:
        return len(self._ram) + sum(1 for v in self._spilled.values() if not isinstance(v, _Spilled))

    def _spill(self, value: Any) -> Any:
        if type(value) is not FrameOutput or any(getattr(value, f) is not None for f in _RAM_ONLY):
            return value
        if value.maskmem_pos_enc is not None:
            if self._pos_enc is None:
                self._pos_enc = value.maskmem_pos_enc
            elif not _same_tensors(self._pos_enc, value.maskmem_pos_enc):
                return value  # not the session's shared encoding: keep it as it is
        record = self.store.submit([getattr(value, f) for f in _FIELDS])
        if record is None:
            return value  # the store is off: RAM it is
        return _Spilled(record, value.maskmem_pos_enc is not None)

    def _read(self, entry: _Spilled) -> FrameOutput:
        tensors = self.store.read(entry.record, self.device)
        out = FrameOutput(**dict(zip(_FIELDS, tensors)))
        out.maskmem_pos_enc = self._pos_enc if entry.has_pos else None
        return out


def _same_tensors(a: List[torch.Tensor], b: List[torch.Tensor]) -> bool:
    """Whether two position encodings are views of the same stored values (no compare of data)."""
    return len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and x.device == y.device
        and x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr() and x.stride() == y.stride()
        for x, y in zip(a, b)
    )
