"""The state of one video tracking session, as a typed dataclass.

Field names are those of the reference's ``inference_state`` dictionary and the object
also answers ``state["num_frames"]``, ``state["video_height"]``, ... so code written for the
reference keeps working. Objects are addressed by the user's ``obj_id`` outside and by a
dense index ``obj_idx`` (0, 1, ...) inside, in order of first appearance.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, Hashable, List, Mapping, Optional, Tuple

import torch

from sam2.media.video import LRUCache, VideoFrames
from sam2.modeling.memory_cache import MemoryCache
from sam2.modeling.tracker import ItemAccessMixin, MemoryBank
from sam2.spill_store import SpillError, SpillStore
from sam2.spilled_outputs import SpilledFrameOutputs

PointInputs = Dict[str, torch.Tensor]  # {"point_coords": 1 x P x 2, "point_labels": 1 x P}

# What ``frames_tracked_per_obj`` holds per frame: one shared read-only mapping per direction
# (a dict per frame and object would be ~250 bytes each on a 20,000-frame clip).
TRACKED_FORWARD: Mapping[str, bool] = MappingProxyType({"reverse": False})
TRACKED_REVERSE: Mapping[str, bool] = MappingProxyType({"reverse": True})


class UnknownObjectError(ValueError, RuntimeError):
    """An object id that the session does not know (a ValueError, and a RuntimeError as
    the reference raises for ``remove_object(..., strict=True)``)."""


@dataclass
class VideoSessionState(ItemAccessMixin):
    images: VideoFrames
    num_frames: int
    video_height: int
    video_width: int
    device: torch.device
    storage_device: torch.device
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    # prompts per object index, then per frame
    point_inputs_per_obj: Dict[int, Dict[int, PointInputs]] = field(default_factory=dict)
    mask_inputs_per_obj: Dict[int, Dict[int, torch.Tensor]] = field(default_factory=dict)
    # image features of a few recently visited frames: (image, backbone_out)
    cached_features: LRUCache = field(default_factory=lambda: LRUCache(2))
    # values shared by all frames and objects (the memory position encoding)
    constants: Dict[str, Any] = field(default_factory=dict)
    obj_id_to_idx: "OrderedDict[Hashable, int]" = field(default_factory=OrderedDict)
    obj_idx_to_id: "OrderedDict[int, Hashable]" = field(default_factory=OrderedDict)
    obj_ids: List[Hashable] = field(default_factory=list)
    # results used as memory, per object
    output_dict_per_obj: Dict[int, MemoryBank] = field(default_factory=dict)
    # results of prompts given since the last propagation (merged in before propagating)
    temp_output_dict_per_obj: Dict[int, MemoryBank] = field(default_factory=dict)
    # frames already tracked per object -> {"reverse": direction it was tracked in}
    frames_tracked_per_obj: Dict[int, Dict[int, Dict[str, bool]]] = field(default_factory=dict)
    # what a propagation keeps between frames (memory projections, the frame's self-attention)
    memory_cache: MemoryCache = field(default_factory=MemoryCache, repr=False, compare=False)
    # where tracked frames' outputs go past ``frames_in_ram`` per object (None: all kept in RAM)
    spill: Optional[SpillStore] = field(default=None, repr=False, compare=False)
    frames_in_ram: Optional[int] = None

    def __post_init__(self) -> None:
        if self.spill is not None:
            # the folder goes with the session, also when it is only garbage-collected
            self._finalizer = weakref.finalize(self, self.spill.close)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Delete the session's spill folder now (the session keeps only what is in RAM)."""
        if self.spill is not None:
            self._finalizer()

    def __enter__(self) -> "VideoSessionState":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def check_spill(self) -> None:
        """Raise the spill store's failure once (it then keeps outputs in RAM)."""
        spill = self.spill
        if spill is not None and spill.error is not None and not spill.error_reported:
            spill.error_reported = True
            raise SpillError(spill.error.errno, spill.error.strerror)

    def mark_tracked(self, obj_idx: int, frame_idx: int, reverse: bool) -> None:
        self.frames_tracked_per_obj[obj_idx][frame_idx] = TRACKED_REVERSE if reverse else TRACKED_FORWARD

    def _new_memory_bank(self) -> MemoryBank:
        if self.spill is None or self.frames_in_ram is None:
            return MemoryBank()
        outputs = SpilledFrameOutputs(self.spill, self.frames_in_ram, self.storage_device)
        return MemoryBank(non_cond_frame_outputs=outputs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ helpers
    @property
    def num_objects(self) -> int:
        return len(self.obj_idx_to_id)

    def check_frame_idx(self, frame_idx: Any, what: str = "frame_idx") -> int:
        """``frame_idx`` as an int, or a ValueError naming the valid range."""
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, int):
            try:
                import numpy as np

                if isinstance(frame_idx, np.integer):
                    frame_idx = int(frame_idx)
                elif isinstance(frame_idx, torch.Tensor) and frame_idx.numel() == 1 and not frame_idx.is_floating_point():
                    frame_idx = int(frame_idx.item())
                else:
                    raise TypeError
            except TypeError:
                raise ValueError(f"{what} must be an integer, got {frame_idx!r}") from None
        if not 0 <= frame_idx < self.num_frames:
            raise ValueError(
                f"{what} {frame_idx} is out of range: the video has {self.num_frames} frames "
                f"(valid indices 0..{self.num_frames - 1})"
            )
        return frame_idx

    def obj_idx(self, obj_id: Hashable) -> int:
        """The index of a known object id, or ``UnknownObjectError``."""
        idx = self.obj_id_to_idx.get(obj_id)
        if idx is None:
            raise UnknownObjectError(f"unknown object id {obj_id!r}; known object ids: {list(self.obj_ids)}")
        return idx

    def add_object(self, obj_id: Hashable) -> int:
        """The index of ``obj_id``, registering it (at the next index) if new."""
        idx = self.obj_id_to_idx.get(obj_id)
        if idx is not None:
            return idx
        try:
            hash(obj_id)
        except TypeError:
            raise ValueError(f"object ids must be hashable (e.g. int), got {obj_id!r}") from None
        idx = len(self.obj_id_to_idx)
        self.obj_id_to_idx[obj_id] = idx
        self.obj_idx_to_id[idx] = obj_id
        self.obj_ids = list(self.obj_id_to_idx)
        self.point_inputs_per_obj[idx] = {}
        self.mask_inputs_per_obj[idx] = {}
        self.output_dict_per_obj[idx] = self._new_memory_bank()
        self.temp_output_dict_per_obj[idx] = MemoryBank()
        self.frames_tracked_per_obj[idx] = {}
        return idx

    def frame_output(self, obj_idx: int, frame_idx: int, prefer: Optional[str] = None):
        """The newest output of an object on a frame: a pending (temp) one first, then a
        conditioning one, then a tracked one; None if the object has none."""
        temp = self.temp_output_dict_per_obj[obj_idx]
        keys: Tuple[str, ...] = (prefer,) if prefer else ("cond_frame_outputs", "non_cond_frame_outputs")
        for key in keys:
            out = temp[key].get(frame_idx)
            if out is not None:
                return out
        bank = self.output_dict_per_obj[obj_idx]
        out = bank.cond_frame_outputs.get(frame_idx)
        if out is None:
            out = bank.non_cond_frame_outputs.get(frame_idx)
        return out
