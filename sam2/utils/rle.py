"""Masks as run lengths: the three ways a mask travels, and the conversions between them.

* a boolean ``H x W`` array / tensor (what the model gives and the UI draws),
* an *uncompressed RLE* ``{"size": [h, w], "counts": [int, ...]}`` (column-major run lengths
  that start with a run of zeros, the layout pycocotools uses),
* a *COCO RLE* ``{"size": [h, w], "counts": str}`` (the same runs, delta coded and packed
  into printable characters: the string found in COCO json files).

The automatic mask generator keeps its masks as uncompressed RLEs between stages, and every
mask export of the project writes COCO RLEs, byte for byte what pycocotools writes.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "ArrayOrTensor", "CocoRLE", "UncompressedRLE", "area_from_rle", "coco_decode_rle", "coco_encode_rle",
    "mask_to_coco_rle", "mask_to_rle_pytorch", "masks_to_rle", "rle_to_mask",
]

ArrayOrTensor = Union[np.ndarray, torch.Tensor]


class UncompressedRLE(TypedDict):
    """Run lengths over the column-major (Fortran order) flattened mask, zeros first."""

    size: List[int]  # [height, width]
    counts: List[int]


class CocoRLE(TypedDict):
    """The COCO string form of an RLE, as pycocotools' ``frPyObjects``/``encode`` write it."""

    size: List[int]  # [height, width]
    counts: str


def masks_to_rle(
    masks: torch.Tensor,
    crop_box: Optional[Sequence[int]] = None,
    orig_hw: Optional[Tuple[int, int]] = None,
) -> List[UncompressedRLE]:
    """Uncompressed RLEs of boolean masks ``B x h x w``, vectorised in torch.

    With ``crop_box`` (XYXY) and ``orig_hw``, the masks are crops of an ``orig_hw`` image and
    the RLEs describe them pasted at their place in it, without ever building the full-size
    masks (only rows are padded; columns outside the crop become leading/trailing zero runs).
    """
    if masks.dim() != 3:
        raise ValueError(f"masks must be B x H x W, got {tuple(masks.shape)}")
    if masks.dtype != torch.bool:
        masks = masks != 0
    b, h, w = masks.shape
    x0 = 0
    if crop_box is not None:
        if orig_hw is None:
            raise ValueError("orig_hw is required with crop_box")
        x0, y0, x1, y1 = (int(v) for v in crop_box)
        full_h, full_w = (int(v) for v in orig_hw)
        if (x1 - x0, y1 - y0) != (w, h) or x0 < 0 or y0 < 0 or x1 > full_w or y1 > full_h:
            raise ValueError(f"crop_box {list(crop_box)} does not fit masks of {h}x{w} inside an image of {full_h}x{full_w}")
        if h != full_h:
            masks = F.pad(masks, (0, 0, y0, full_h - y1), value=False)
    else:
        full_h, full_w = h, w
    if b == 0:
        return []
    if h == 0 or w == 0:
        raise ValueError(f"cannot encode masks with an empty side: {h}x{w}")
    total = full_h * full_w
    lead_len = x0 * full_h  # zeros before the crop's first column
    tail_start = (x0 + w) * full_h  # zeros after its last column
    flat = masks.transpose(1, 2).reshape(b, -1)  # column-major order
    change = flat[:, 1:] != flat[:, :-1]
    rows, cols = change.nonzero(as_tuple=True)
    per_mask = torch.bincount(rows, minlength=b).cpu().tolist()
    starts = (cols + 1).cpu().numpy().astype(np.int64) + lead_len
    first = flat[:, 0].cpu().tolist()
    last = flat[:, -1].cpu().tolist()
    out: List[UncompressedRLE] = []
    offset = 0
    for i in range(b):
        inner = starts[offset : offset + per_mask[i]]
        offset += per_mask[i]
        edges = [0]
        if lead_len > 0 and first[i]:
            edges.append(lead_len)
        edges.extend(inner.tolist())
        if tail_start < total and last[i]:
            edges.append(tail_start)
        edges.append(total)
        counts = [0] if (first[i] and lead_len == 0) else []
        counts.extend(np.diff(np.asarray(edges, dtype=np.int64)).tolist())
        out.append({"size": [full_h, full_w], "counts": counts})
    return out


def mask_to_rle_pytorch(tensor: torch.Tensor) -> List[UncompressedRLE]:
    """Uncompressed RLEs (pycocotools layout) of boolean masks ``B x H x W``."""
    return masks_to_rle(tensor)


def rle_to_mask(rle: Union[UncompressedRLE, CocoRLE, dict]) -> np.ndarray:
    """Boolean ``H x W`` mask (C-contiguous) from an uncompressed or a COCO RLE."""
    if isinstance(rle.get("counts"), (str, bytes)):
        rle = coco_decode_rle(rle)
    h, w = (int(v) for v in rle["size"])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.size and counts.min() < 0:
        raise ValueError("RLE counts must be non-negative")
    if int(counts.sum()) != h * w:
        raise ValueError(f"RLE counts add up to {int(counts.sum())} pixels, but size {h}x{w} has {h * w}")
    values = (np.arange(counts.size) % 2).astype(bool)  # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)
    return np.ascontiguousarray(flat.reshape(w, h).T)


def area_from_rle(rle: Union[UncompressedRLE, dict]) -> int:
    """Number of foreground pixels (the odd-numbered runs)."""
    return int(sum(rle["counts"][1::2]))


def coco_encode_rle(uncompressed_rle: Union[UncompressedRLE, dict]) -> CocoRLE:
    """COCO string form of an uncompressed RLE, byte for byte what pycocotools writes.

    Each count from the fourth on is stored as the difference to the count two places
    before it (runs of the same colour tend to be alike); every value is then written in
    little-endian groups of 5 bits plus a continuation bit, each group as the character
    ``48 + bits`` (the last group's top bit carries the sign).
    """
    h, w = (int(v) for v in uncompressed_rle["size"])
    counts = [int(c) for c in uncompressed_rle["counts"]]
    chars: List[str] = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5  # Python's >> is arithmetic, like C's on signed long
            more = value != -1 if group & 0x10 else value != 0
            if more:
                group |= 0x20
            chars.append(chr(group + 48))
    return {"size": [h, w], "counts": "".join(chars)}


def coco_decode_rle(coco_rle: Union[CocoRLE, dict]) -> UncompressedRLE:
    """Uncompressed RLE from a COCO string RLE (inverse of :func:`coco_encode_rle`)."""
    h, w = (int(v) for v in coco_rle["size"])
    text = coco_rle["counts"]
    if isinstance(text, bytes):
        text = text.decode("ascii")
    counts: List[int] = []
    value = shift = 0
    for ch in text:
        group = ord(ch) - 48
        if not 0 <= group < 64:
            raise ValueError(f"invalid character {ch!r} in a COCO RLE string")
        value |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:  # negative: extend the sign
            value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
        value = shift = 0
    if shift:
        raise ValueError("truncated COCO RLE string")
    return {"size": [h, w], "counts": counts}


def mask_to_coco_rle(mask: ArrayOrTensor) -> CocoRLE:
    """COCO RLE of one ``H x W`` mask (bool, or nonzero = foreground)."""
    tensor = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    if tensor.dim() != 2:
        raise ValueError(f"mask must be H x W, got {tuple(tensor.shape)}")
    return coco_encode_rle(masks_to_rle(tensor[None])[0])
