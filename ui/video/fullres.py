"""Masks of the processed clip at the upload's own size and frame rate (for the exports).

The app tracks a bounded copy of the upload (see ``ui.video.media``): downscaled, and with
one frame in ``stride`` kept. Only binary masks at that size are stored, so each mask is
turned into a soft field first: its signed distance to the mask's edge in processed pixels
(positive inside, negative outside, +-0.5 on the pixels either side of the edge, so the
zero level lies half-way between them, where the edge is).

* Size: the field is resized bilinearly to the source size and thresholded at 0. The edge
  follows a smooth, sub-pixel path instead of the blocks nearest-neighbour scaling gives
  (on a plain binary mask this is the same edge as bilinear scaling thresholded at 0.5,
  with rounder corners).
* Rate: source frame ``j`` lies at ``j / stride`` between processed frames ``k`` and
  ``k + 1``. Where both have the object, their fields are blended with the time weights
  (``(1 - t) * d_k + t * d_k+1``, ``t = j / stride - k``), so the object moves and changes
  shape smoothly instead of jumping every ``stride`` frames; where one of them has no mask
  (the object appears, disappears, or the frame was never tracked), the frame takes the
  nearest processed frame's mask (the earlier one on a tie). Frames after the last
  processed one keep its mask.

A source frame that is a processed frame at the processed size is that frame's stored
mask, bit for bit.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from sam2.media.video import LRUCache
from ui.video.state import MaskStore


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """H x W float32: distance to the mask's edge, positive inside, +-0.5 next to the edge."""
    import cv2

    m = np.ascontiguousarray(mask, dtype=np.uint8)
    h, w = m.shape
    cap = float(h + w)  # a full (or empty) mask has no edge: "far inside" (or outside)
    inside = np.minimum(cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE), cap)
    outside = np.minimum(cv2.distanceTransform(1 - m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE), cap)
    return np.where(m > 0, inside - 0.5, 0.5 - outside).astype(np.float32)


def resize_field(field: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """``field`` resized bilinearly (pixel centres aligned) to ``hw``."""
    import cv2

    if field.shape == tuple(hw):
        return field
    return cv2.resize(field, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_LINEAR)


class SourceRateMasks:
    """``frame(j)``: every object's mask on source frame ``j``, at the source size."""

    def __init__(self, store: MaskStore, obj_ids: Sequence[int], processed_hw: Tuple[int, int],
                 source_hw: Tuple[int, int], stride: int, num_processed: int) -> None:
        if stride < 1 or num_processed < 1:
            raise ValueError(f"stride and num_processed must be >= 1, got {stride}, {num_processed}")
        self.store = store
        self.obj_ids = [int(o) for o in obj_ids]
        self.processed_hw = (int(processed_hw[0]), int(processed_hw[1]))
        self.source_hw = (int(source_hw[0]), int(source_hw[1]))
        self.stride = int(stride)
        self.num_processed = int(num_processed)
        # frames are asked for in order: the two neighbours of every object are enough
        self._fields: LRUCache[Tuple[int, int], Optional[np.ndarray]] = LRUCache(2 * max(1, len(self.obj_ids)) + 2)

    def _mask(self, k: int, obj_id: int) -> Optional[np.ndarray]:
        m = self.store.mask(k, obj_id)
        return m if m is not None and m.any() else None

    def _field(self, k: int, obj_id: int) -> Optional[np.ndarray]:
        key = (k, obj_id)
        if key in self._fields:
            return self._fields.get(key)
        m = self._mask(k, obj_id)
        f = None if m is None else signed_distance(m)
        self._fields.put(key, f)
        return f

    def neighbours(self, j: int) -> Tuple[int, int, float]:
        """(k, k + 1, t): source frame ``j`` lies at ``k + t`` in processed frames (0 <= t < 1);
        past the last processed frame, k is the last one and t is 0."""
        k, r = divmod(int(j), self.stride)
        if k >= self.num_processed - 1:
            return self.num_processed - 1, self.num_processed - 1, 0.0
        return k, k + 1, r / self.stride

    def nearest(self, j: int) -> int:
        """The processed frame nearest in time to source frame ``j`` (the earlier on a tie)."""
        k0, k1, t = self.neighbours(j)
        return k0 if t <= 0.5 else k1

    def mask(self, j: int, obj_id: int) -> Optional[np.ndarray]:
        """``obj_id``'s mask on source frame ``j`` (H x W bool at the source size), or None."""
        k0, k1, t = self.neighbours(j)
        if t == 0.0:
            if self.source_hw == self.processed_hw:
                return self._mask(k0, obj_id)
            f = self._field(k0, obj_id)
        else:
            f0, f1 = self._field(k0, obj_id), self._field(k1, obj_id)
            if f0 is not None and f1 is not None:
                f = (1.0 - t) * f0 + t * f1
            else:
                f = self._field(self.nearest(j), obj_id)
        if f is None:
            return None
        out = resize_field(f, self.source_hw) > 0
        return out if out.any() else None

    def frame(self, j: int) -> Dict[int, np.ndarray]:
        """{obj_id: mask} of source frame ``j`` for the objects present there."""
        out = {}
        for oid in self.obj_ids:
            m = self.mask(j, oid)
            if m is not None:
                out[oid] = m
        return out
