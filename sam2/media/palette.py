"""The palette of label PNGs: DAVIS / PASCAL VOC's 256 colours, so that a label map written by
the app or the batch command opens in the usual tools with object k in colour k."""

from __future__ import annotations

from typing import List


def davis_palette() -> List[int]:
    """The 256-colour palette of DAVIS / PASCAL VOC label PNGs (flattened RGB): 0 black,
    1 dark red, 2 green, ... (bit i of the index goes to bit 7 - i/3 of its channel)."""
    pal: List[int] = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal
