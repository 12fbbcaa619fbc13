"""What tracking keeps between frames to avoid recomputing it: one place, owned by a session.

Two things computed while tracking stay valid for a while:

* a stored memory frame's cross-attention keys and values (``MemoryFrameProjection``): a
  tracked frame's memory is attended to by the next several frames (seven memories by
  default; EdgeTAM's compressed memories alike), and projecting it into every layer's keys
  and values each time was measurable (tiny, 7 memories, 2-core CPU: 0.92 -> 0.79 s per
  memory attention in bfloat16, 3.10 -> 3.05 s in float32);
* the memory attention's first self-attention, which sees only the frame and no memory, so
  when several objects are tracked it is the same for each of them (105 ms per object and
  frame in float32 for the tiny model on a 2-core CPU, 31 ms in bfloat16).

``MemoryCache`` holds both for one video session (``VideoSessionState.memory_cache``) while a
propagation runs (``active``): projections per object and frame index, the self-attention
for one frame index. Outside a propagation (and after one) nothing is kept: kept in an idle
session they would hold ~30 MB per memory frame and object for nothing. The modules in
``sam2.modeling`` never cache anything themselves; they compute what they are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Tuple

import torch

__all__ = ["MemoryFrameProjection", "MemoryCache", "ObjectMemoryCache"]


@dataclass
class MemoryFrameProjection:
    """Cross-attention keys and values of a run of memory tokens, for every layer.

    For a stored frame, the keys leave out the frame's temporal encoding: which temporal slot
    a frame occupies changes from frame to frame, and its effect is added per use
    (``RoPEAttention.key_offset``). ``keys[i]``: B x heads x N x head_dim for layer i;
    ``values[i]``: what layer i's ``project_values`` gives (projected, or the raw memory when
    values are folded).
    """

    keys: List[torch.Tensor]
    values: List[torch.Tensor]

    @property
    def num_tokens(self) -> int:
        return self.keys[0].shape[-2]


@dataclass
class _Projection:
    features: torch.Tensor  # the stored memory it was made from (held: identity is the check)
    pos: torch.Tensor
    how: Any
    projection: MemoryFrameProjection


class MemoryCache:
    """Projections of stored memories (per object and frame index) and the first-layer
    self-attention of the frame being tracked, kept while ``active``."""

    def __init__(self) -> None:
        self._projections: Dict[Hashable, Dict[int, _Projection]] = {}
        self._self_attention: Optional[Tuple[int, Any, torch.Tensor]] = None
        self.active = False

    def for_object(self, obj: Hashable) -> "ObjectMemoryCache":
        return ObjectMemoryCache(self, obj)

    def num_projections(self, obj: Optional[Hashable] = None) -> int:
        """How many projections are kept (for one object, or for all)."""
        if obj is not None:
            return len(self._projections.get(obj, ()))
        return sum(len(p) for p in self._projections.values())

    def projection(
        self, obj: Hashable, frame_idx: int, features: torch.Tensor, pos: torch.Tensor, how: Any,
        make: Callable[[], MemoryFrameProjection],
    ) -> MemoryFrameProjection:
        """The projection of object ``obj``'s memory of frame ``frame_idx``: kept if it was
        made from these very tensors (a frame clicked again gets a new memory tensor) the same
        ``how`` (device and compute dtypes), else made by ``make`` (and kept while active)."""
        per_frame = self._projections.get(obj)
        entry = per_frame.get(frame_idx) if per_frame else None
        if entry is not None and entry.features is features and entry.pos is pos and entry.how == how:
            return entry.projection
        projection = make()
        if self.active:
            self._projections.setdefault(obj, {})[frame_idx] = _Projection(features, pos, how, projection)
        return projection

    def retain(self, obj: Hashable, frame_indices: Iterable[int]) -> None:
        """Keep only the projections of ``obj`` for ``frame_indices`` (what the last tracking
        step attended to), so the cache holds at most one step's frames per object."""
        per_frame = self._projections.get(obj)
        if per_frame:
            keep = set(frame_indices)
            for t in [t for t in per_frame if t not in keep]:
                del per_frame[t]

    def first_self_attention(self, frame_idx: int, how: Any, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The memory attention's first self-attention on frame ``frame_idx``: the frame's
        features are a function of the frame alone, so within one session and one
        propagation the frame index identifies them (``how``: batch, device and dtypes)."""
        kept = self._self_attention
        if kept is not None and kept[0] == frame_idx and kept[1] == how:
            return kept[2]
        result = make()
        if self.active:
            self._self_attention = (frame_idx, how, result)
        return result

    def clear(self) -> None:
        self._projections.clear()
        self._self_attention = None


class ObjectMemoryCache:
    """The view of a ``MemoryCache`` that tracking one object uses (what ``track_step`` takes)."""

    def __init__(self, cache: MemoryCache, obj: Hashable) -> None:
        self.cache = cache
        self.obj = obj

    def projection(self, frame_idx: int, features: torch.Tensor, pos: torch.Tensor, how: Any,
                   make: Callable[[], MemoryFrameProjection]) -> MemoryFrameProjection:
        return self.cache.projection(self.obj, frame_idx, features, pos, how, make)

    def retain(self, frame_indices: Iterable[int]) -> None:
        self.cache.retain(self.obj, frame_indices)

    def first_self_attention(self, frame_idx: int, how: Any, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        return self.cache.first_self_attention(frame_idx, how, make)
