"""Boxes of masks, box formats, and a box NMS with the exact behaviour of torchvision's.

Boxes are XYXY pixel indices with inclusive ends unless a function says otherwise, as in the
reference's mask generator. ``nms`` / ``batched_nms`` reproduce ``torchvision.ops`` to the
order of tied scores (torchvision is not a dependency), so the generator keeps, drops and
orders masks exactly as the reference does; Find uses them to drop duplicate detections.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import torch

__all__ = ["batched_mask_to_box", "batched_nms", "box_area", "box_xywh_to_xyxy", "box_xyxy_to_xywh", "nms"]


def batched_mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """Tight XYXY boxes around boolean masks shaped ``... x H x W``; result ``... x 4``.

    Coordinates are pixel indices, both ends inclusive (a one-pixel mask at (x, y) gives
    ``[x, y, x, y]``), as int64. An empty mask gives ``[0, 0, 0, 0]``.
    """
    if masks.dim() < 2:
        raise ValueError(f"masks must be shaped ... x H x W, got {tuple(masks.shape)}")
    lead = masks.shape[:-2]
    if masks.numel() == 0:
        # Nothing to scan (no masks, or a zero-sized image): all boxes are empty.
        return torch.zeros(*lead, 4, device=masks.device)
    if masks.dtype != torch.bool:
        masks = masks != 0
    h, w = masks.shape[-2:]
    rows = masks.any(dim=-1).to(torch.uint8)  # ... x H: row y holds a pixel
    cols = masks.any(dim=-2).to(torch.uint8)  # ... x W
    # argmax returns the first maximal index, so it finds the first occupied row/column;
    # on the flipped vectors it finds the last one.
    top = rows.argmax(dim=-1)
    bottom = (h - 1) - rows.flip(-1).argmax(dim=-1)
    left = cols.argmax(dim=-1)
    right = (w - 1) - cols.flip(-1).argmax(dim=-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    occupied = rows.any(dim=-1)
    return boxes * occupied.unsqueeze(-1)


def _convert_box(box: Any, to_xywh: bool):
    as_list = isinstance(box, (list, tuple))
    if as_list:
        box = np.asarray(box, dtype=np.float64)
    if isinstance(box, torch.Tensor):
        out = box.clone()
    elif isinstance(box, np.ndarray):
        out = box.copy()
    else:
        raise TypeError(f"boxes must be a tensor, an array or a list, got {type(box).__name__}")
    if out.shape[-1] != 4:
        raise ValueError(f"boxes must have 4 coordinates in the last axis, got shape {tuple(out.shape)}")
    if to_xywh:
        out[..., 2] = out[..., 2] - out[..., 0]
        out[..., 3] = out[..., 3] - out[..., 1]
    else:
        out[..., 2] = out[..., 2] + out[..., 0]
        out[..., 3] = out[..., 3] + out[..., 1]
    return out.tolist() if as_list else out


def box_xyxy_to_xywh(box):
    """``[x0, y0, x1, y1]`` -> ``[x0, y0, x1 - x0, y1 - y0]`` (any leading axes; a new object).

    The generator's boxes are inclusive pixel indices, so a mask spanning columns 3..7
    reports width 4, as the reference does.
    """
    return _convert_box(box, to_xywh=True)


def box_xywh_to_xyxy(box):
    """Inverse of :func:`box_xyxy_to_xywh`."""
    return _convert_box(box, to_xywh=False)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """``(x1 - x0) * (y1 - y0)`` of N x 4 XYXY boxes, in the boxes' dtype."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression with the semantics of ``torchvision.ops.nms`` (CPU).

    Boxes are visited in descending score order (a *stable* sort, so equal scores keep
    their input order); a box is kept unless an already kept box overlaps it with an IoU
    strictly greater than ``iou_threshold``. The IoU is computed in the boxes' floating
    dtype, step by step as the torchvision kernel does, and compared with the threshold in
    double precision, so borderline cases fall the same way. Degenerate boxes give a 0/0
    IoU (NaN) that suppresses nothing. Returns the kept indices (int64), best first.
    """
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be N x 4 (XYXY), got {tuple(boxes.shape)}")
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have one value per box: {boxes.shape[0]} expected, got {tuple(scores.shape)}")
    n = boxes.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    dtype = boxes.dtype if boxes.dtype in (torch.float32, torch.float64) else torch.float32
    b = boxes.detach().to(device="cpu", dtype=dtype).numpy()
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores.detach().cpu(), dim=0, descending=True, stable=True)[1].numpy()
    zero = b.dtype.type(0)
    suppressed = np.zeros(n, dtype=bool)
    keep: List[int] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for pos in range(n):
            i = order[pos]
            if suppressed[i]:
                continue
            keep.append(int(i))
            rest = order[pos + 1 :]
            if rest.size == 0:
                break
            w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            iou = inter / (areas[i] + areas[rest] - inter)
            suppressed[rest[iou.astype(np.float64) > iou_threshold]] = True
    return torch.as_tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each category ``idxs``; same result and order as ``torchvision.ops.batched_nms``.

    torchvision takes one of two routes and both are reproduced, because they order tied
    scores differently: up to 1000 boxes on the CPU (25000 elsewhere) the boxes of each
    category are shifted apart and one NMS runs (order: scores descending, ties by index);
    above that, one NMS per category and the kept indices are re-sorted by score with
    torch's default (unstable) sort, exactly the call torchvision makes.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    limit = 4000 if boxes.device.type == "cpu" else 100_000
    if boxes.numel() > limit:
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for category in torch.unique(idxs):
            members = torch.where(idxs == category)[0]
            kept = nms(boxes[members], scores[members], iou_threshold)
            keep_mask[members[kept]] = True
        kept_idx = torch.where(keep_mask)[0]
        return kept_idx[scores[kept_idx].sort(descending=True)[1]]
    # Shift each category by (max coordinate + 1) times its id so categories never overlap.
    top = boxes.max()
    offsets = idxs.to(boxes) * (top + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)
