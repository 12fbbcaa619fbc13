"""Files a user can download: binary mask PNG, RGBA cutout PNG, COCO-style RLE JSON.

Every file has the original image size, whatever size the browser showed. The JSON uses
the COCO run-length encoding (``{"size": [h, w], "counts": "..."}``) produced by the
helpers of ``sam2.utils.amg``, so ``pycocotools.mask.decode`` reads it back.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from sam2.find import coco_categories
from sam2.utils.amg import area_from_rle, coco_encode_rle, mask_to_rle_pytorch
from sam2.media.palette import davis_palette

from ui.common.packed_mask import mask_area_box


@dataclass(frozen=True)
class ExportedMask:
    """One mask to export, with what is known about how it was obtained."""

    mask: np.ndarray  # HxW bool, original image size
    label: str = "object"
    predicted_iou: Optional[float] = None
    stability_score: Optional[float] = None
    point_coords: Sequence[Sequence[float]] = field(default_factory=tuple)
    point_labels: Sequence[int] = field(default_factory=tuple)
    box_xyxy: Optional[Sequence[float]] = None
    category: str = "object"  # the COCO category name: Find's label ("car"), else "object"


def safe_stem(name: Optional[str], default: str = "image") -> str:
    """A file-name-safe stem from an uploaded file's name."""
    stem = os.path.splitext(os.path.basename(name or ""))[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")
    return stem[:60] or default


def _check_mask(mask: np.ndarray, hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D (H x W), got shape {m.shape}")
    if hw is not None and m.shape != tuple(hw):
        raise ValueError(f"mask shape {m.shape} does not match the image size {tuple(hw)}")
    return m.astype(bool, copy=False)


def union_mask(masks: Sequence[np.ndarray], hw: Tuple[int, int]) -> np.ndarray:
    out = np.zeros(hw, dtype=bool)
    for m in masks:
        out |= _check_mask(m, hw)
    return out


def write_mask_png(mask: np.ndarray, path: str) -> str:
    """Single-channel PNG: 255 inside the mask, 0 outside."""
    m = _check_mask(mask)
    Image.fromarray(m.astype(np.uint8) * 255, mode="L").save(path, format="PNG")
    return path


def label_image(labels: np.ndarray) -> Image.Image:
    """A palette ("P") image of an H x W uint8 label map: the values stay the object ids,
    and viewers show them in the DAVIS colours instead of near-black greys."""
    img = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    img.putpalette(davis_palette())
    return img


def label_values(masks: Sequence[np.ndarray], values: Optional[Sequence[int]] = None) -> np.ndarray:
    """H x W uint8: pixel value ``values[i]`` (default ``i + 1``) where mask ``i`` is, 0 elsewhere.

    Where masks overlap, the one listed later wins: the canvas draws the objects in list
    order, each over the ones before, so the label map says what the picture shows on top."""
    if not masks:
        raise ValueError("no masks to write")
    values = list(range(1, len(masks) + 1)) if values is None else [int(v) for v in values]
    if len(values) != len(masks) or not all(1 <= v <= 255 for v in values):
        raise ValueError(f"a label PNG needs one value in 1..255 per mask, got {values[:8]} for {len(masks)} masks")
    hw = np.asarray(masks[0]).shape
    labels = np.zeros(hw, dtype=np.uint8)
    for v, m in zip(values, masks):
        labels[_check_mask(m, hw)] = v
    return labels


def write_label_png(masks: Sequence[np.ndarray], path: str, values: Optional[Sequence[int]] = None) -> str:
    """Palette PNG of ``label_values`` (DAVIS colours, 0 black): pixel value k means the
    object numbered k (by default the k-th mask); later objects win where masks overlap."""
    label_image(label_values(masks, values)).save(path, format="PNG")
    return path


def name_slug(name: str, default: str = "object") -> str:
    """A file-name-safe form of an object name (``"box/thing"`` -> ``"box_thing"``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._")[:40] or default


def write_object_masks_zip(objects: Sequence[Tuple[int, str, np.ndarray]], path: str) -> str:
    """One 0/255 PNG per object, ``objects/<number>_<name>.png`` (the video zip's layout for a
    single picture), from (number, name, H x W mask) triples; stored, not deflated (PNGs
    are compressed already)."""
    import io
    import zipfile

    if not objects:
        raise ValueError("no masks to write")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for number, name, mask in objects:
            buf = io.BytesIO()
            Image.fromarray(_check_mask(mask).astype(np.uint8) * 255, mode="L").save(buf, format="PNG")
            zf.writestr(f"objects/{int(number):03d}_{name_slug(name)}.png", buf.getvalue())
    return path


def write_cutout_png(image: np.ndarray, mask: np.ndarray, path: str) -> str:
    """RGBA PNG of the full image with alpha 255 inside the mask and 0 outside."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, got {image.dtype} {image.shape}")
    m = _check_mask(mask, image.shape[:2])
    rgba = np.dstack([image, m.astype(np.uint8) * 255])
    Image.fromarray(rgba, mode="RGBA").save(path, format="PNG")
    return path


def coco_bbox(mask: np.ndarray) -> List[int]:
    """COCO ``[x, y, width, height]`` of a mask, as ``pycocotools.mask.toBbox`` gives it: the
    width counts pixels (a mask spanning columns 3..7 is 5 wide; an empty mask is all zeros).

    Not SAM's ``batched_mask_to_box`` + ``box_xyxy_to_xywh``: those keep the reference's
    inclusive ends (``x1 - x0``, one pixel short), which the automatic mask generator's own
    ``bbox`` records must keep for parity, but a COCO file must not."""
    _, box = mask_area_box(np.asarray(mask, dtype=bool))
    if box is None:
        return [0, 0, 0, 0]
    x0, y0, x1, y1 = box
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def coco_document(
    items: Sequence[ExportedMask], image_hw: Tuple[int, int], file_name: str = "image.png"
) -> Dict[str, Any]:
    """A COCO-style dict: one ``image`` entry and one annotation (RLE segmentation) per mask.

    Categories are the items' ``category`` names in first-seen order (ids from 1); with
    no labelled item that is the single ``{"id": 1, "name": "object"}``.
    """
    import torch

    h, w = int(image_hw[0]), int(image_hw[1])
    annotations: List[Dict[str, Any]] = []
    categories, category_ids = coco_categories([it.category or "object" for it in items] or ["object"])
    if items:
        stack = torch.from_numpy(np.stack([_check_mask(it.mask, (h, w)) for it in items]))
        rles = mask_to_rle_pytorch(stack)
        boxes = [coco_bbox(it.mask) for it in items]
        for idx, (it, rle, bbox) in enumerate(zip(items, rles, boxes), start=1):
            ann: Dict[str, Any] = {
                "id": idx,
                "image_id": 1,
                "category_id": category_ids[it.category or "object"],
                "label": it.label,
                "segmentation": coco_encode_rle(rle),
                "area": int(area_from_rle(rle)),
                "bbox": bbox,
                "iscrowd": 0,
            }
            if it.predicted_iou is not None:
                ann["predicted_iou"] = float(it.predicted_iou)
            if it.stability_score is not None:
                ann["stability_score"] = float(it.stability_score)
            if len(it.point_coords):
                ann["point_coords"] = [[float(x), float(y)] for x, y in it.point_coords]
                ann["point_labels"] = [int(v) for v in it.point_labels]
            if it.box_xyxy is not None:
                ann["prompt_box_xyxy"] = [float(v) for v in it.box_xyxy]
            annotations.append(ann)
    return {
        "info": {"description": "SAM 2 masks", "format": "COCO RLE (pycocotools.mask.decode)"},
        "images": [{"id": 1, "file_name": file_name, "height": h, "width": w}],
        "categories": categories,
        "annotations": annotations,
    }


def write_coco_json(
    items: Sequence[ExportedMask], image_hw: Tuple[int, int], path: str, file_name: str = "image.png"
) -> str:
    doc = coco_document(items, image_hw, file_name=file_name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path
