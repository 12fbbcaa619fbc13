"""Boolean masks kept at one bit per pixel, zlib-compressed, for sessions that hold many.

A full-size mask of a 36-megapixel photo is 36 MB as a numpy bool array; packed to bits it
is 4.5 MB, and compressed (masks are mostly long runs) typically 20-500 KB. Packing one
costs ~80 ms at that size, unpacking ~60 ms; at 1-2 megapixels a few milliseconds. The
video tab keeps every tracked frame's masks this way, the image tab its objects'
candidates and its segment-everything result.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np


def mask_area_box(m: np.ndarray) -> Tuple[int, Optional[Tuple[int, int, int, int]]]:
    """(pixel count, (x0, y0, x1, y1) inclusive bounds or None when empty) of a bool mask."""
    area = int(np.count_nonzero(m))
    if not area:
        return 0, None
    ys = np.flatnonzero(m.any(axis=1))
    xs = np.flatnonzero(m.any(axis=0))
    return area, (int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1]))


@dataclass(frozen=True)
class PackedMask:
    """A boolean mask packed to bits and zlib-compressed; ``area`` and ``box`` precomputed."""

    data: bytes
    shape: Tuple[int, int]
    area: int
    box: Optional[Tuple[int, int, int, int]]  # x0, y0, x1, y1 inclusive pixel bounds, None if empty

    @classmethod
    def pack(cls, mask: np.ndarray) -> "PackedMask":
        m = np.asarray(mask, dtype=bool)
        if m.ndim != 2:
            raise ValueError(f"a mask must be 2-D (H x W), got shape {m.shape}")
        area, box = mask_area_box(m)
        return cls(zlib.compress(np.packbits(m).tobytes(), 1), (int(m.shape[0]), int(m.shape[1])), area, box)

    def unpack(self) -> np.ndarray:
        h, w = self.shape
        bits = np.frombuffer(zlib.decompress(self.data), dtype=np.uint8)
        return np.unpackbits(bits, count=h * w).reshape(h, w).astype(bool)

    @property
    def nbytes(self) -> int:
        return len(self.data)


class PackedMasks(Sequence[np.ndarray]):
    """A C x H x W stack of boolean masks, kept packed; reads like the array it replaces
    (``shape``, ``ndim``, ``dtype``, ``len``, ``masks[i]`` unpacks mask i, ``np.asarray``
    unpacks all), so code written for the array keeps working."""

    def __init__(self, packed: Sequence[PackedMask], hw: Tuple[int, int]) -> None:
        self.packed: List[PackedMask] = list(packed)
        self.hw = (int(hw[0]), int(hw[1]))

    @classmethod
    def pack(cls, masks: object) -> "PackedMasks":
        """From a C x H x W array, or a list of H x W arrays (all the same size)."""
        items = [np.asarray(m, dtype=bool) for m in masks]  # type: ignore[union-attr]
        if isinstance(masks, np.ndarray):
            if masks.ndim != 3:
                raise ValueError(f"masks must be C x H x W, got shape {masks.shape}")
            hw = masks.shape[1:]
        else:
            hw = items[0].shape if items else (0, 0)
        if any(m.shape != tuple(hw) for m in items):
            raise ValueError("masks of a stack must share one size")
        return cls([PackedMask.pack(m) for m in items], hw)  # type: ignore[arg-type]

    @property
    def shape(self) -> Tuple[int, int, int]:
        return (len(self.packed), *self.hw)

    ndim = 3
    dtype = np.dtype(bool)

    def __len__(self) -> int:
        return len(self.packed)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return PackedMasks(self.packed[index], self.hw)
        return self.packed[int(index)].unpack()

    def __iter__(self) -> Iterator[np.ndarray]:
        return (p.unpack() for p in self.packed)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.zeros(self.shape, dtype=bool)
        for i, p in enumerate(self.packed):
            out[i] = p.unpack()
        return out if dtype is None else out.astype(dtype)

    def area(self, index: int) -> int:
        return self.packed[int(index)].area

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.packed)
