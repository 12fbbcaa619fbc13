"""Downloads of a tracked clip: mask PNGs in a zip, COCO-style RLE JSON, boxes JSON.

The app's downloads have the uploaded file's own size and frame numbering (its frames
0, 1, 2, ... read at its frame rate, over the span the app processed): ``MaskFiles`` is fed
one frame at a time by ``ui.video.export_run`` with masks brought to that size and rate by
``ui.video.fullres``. ``write_masks_zip`` / ``coco_document`` / ``boxes_document`` write the
app's own masks at the processed size and rate (the fallback, and for tests). The JSON
files record the files' size and rate, the upload's, and (``processed``) what the app
tracked and how its frames map to these.

* ``<name>_masks.zip``:
  ``objects/<id>_<name>/<frame>.png`` one 0/255 PNG per frame per object, and
  ``davis/<frame>.png`` one palette PNG per frame where pixel value k is object id k
  (DAVIS / YouTube-VOS layout; where objects overlap, the one listed later wins), plus
  ``objects.json`` (ids, names, colours).
* ``<name>_coco.json``: one ``image`` per frame, one ``category`` per object, one
  annotation per non-empty mask with a COCO RLE ``segmentation`` (``pycocotools.mask.decode``
  reads it), ``area``, ``bbox`` (x, y, w, h) and ``track_id`` (the object id).
* ``<name>_boxes.json``: per frame, each visible object's box ``[x0, y0, x1, y1]``
  (inclusive pixel bounds).

Frames never tracked have no annotations and empty PNGs; ``tracked_frames`` lists the others.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ui.common.exports import label_image, name_slug, safe_stem
from ui.common.packed_mask import mask_area_box
from ui.video.state import MaskStore
from sam2.find import coco_categories
from sam2.utils.amg import coco_encode_rle, masks_to_rle


@dataclass(frozen=True)
class ObjectInfo:
    obj_id: int
    name: str
    color: Tuple[int, int, int]
    prompted_frames: Tuple[int, ...] = ()
    label: Optional[str] = None  # what "Find" looked for ("car"); None for objects made by clicks


@dataclass(frozen=True)
class ClipExport:
    """Everything the downloads are made from.

    ``width``, ``height``, ``num_frames`` and ``fps`` are those of the files; ``masks`` holds
    the masks the app computed. When the files are made at the upload's own size and rate
    (``MaskFiles`` fed by ``ui.video.fullres``), ``processed`` says what the app worked on
    and how its frames map to these.
    """

    name: str
    num_frames: int
    height: int
    width: int
    fps: float
    objects: Sequence[ObjectInfo]
    masks: MaskStore
    source_size: Optional[Tuple[int, int]] = None  # (w, h) of the uploaded file
    source_fps: Optional[float] = None
    processed: Optional[Dict[str, Any]] = None

    @property
    def stem(self) -> str:
        return safe_stem(self.name, default="video")

    def coco_categories(self) -> Tuple[List[Dict[str, Any]], Dict[int, int]]:
        """COCO ``categories`` and object id -> category id. Objects found by "Find" share
        their label's category ("car" for "car 1" and "car 2"); without any label, each
        object is its own category, numbered by its id."""
        if not any(o.label for o in self.objects):
            return [{"id": o.obj_id, "name": o.name} for o in self.objects], {o.obj_id: o.obj_id for o in self.objects}

        names = [o.label or o.name for o in self.objects]
        categories, ids = coco_categories(names)
        return categories, {o.obj_id: ids[n] for o, n in zip(self.objects, names)}

    def header(self, tracked_frames: Optional[Sequence[int]] = None) -> Dict[str, Any]:
        out = {
            "video": self.name,
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "source_width": None if self.source_size is None else self.source_size[0],
            "source_height": None if self.source_size is None else self.source_size[1],
            "source_fps": self.source_fps,
            "tracked_frames": list(self.masks.frames() if tracked_frames is None else tracked_frames),
            "objects": [
                {"id": o.obj_id, "name": o.name, "color": list(o.color),
                 "prompted_frames": list(o.prompted_frames)}
                for o in self.objects
            ],
        }
        if self.processed is not None:
            out["processed"] = dict(self.processed)
        return out


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


FrameMasks = Dict[int, np.ndarray]  # obj_id -> H x W bool at the files' size


def label_map(clip: ClipExport, frame: int, masks: Optional[FrameMasks] = None) -> np.ndarray:
    """H x W uint8: object id per pixel (0 = background); later objects win overlaps."""
    masks = stored_masks(clip, frame) if masks is None else masks
    labels = np.zeros((clip.height, clip.width), dtype=np.uint8)
    for o in clip.objects:
        m = masks.get(o.obj_id)
        if m is not None:
            labels[m] = o.obj_id
    return labels


def stored_masks(clip: ClipExport, frame: int) -> FrameMasks:
    """The app's own masks of ``frame`` (files at the processed size and rate)."""
    out = {}
    for o in clip.objects:
        m = clip.masks.mask(frame, o.obj_id)
        if m is not None:
            out[o.obj_id] = m
    return out


def coco_rle(mask: np.ndarray, box: Tuple[int, int, int, int]) -> Dict[str, Any]:
    """COCO RLE of ``mask`` given its inclusive ``box``: only the box's columns are scanned
    (the RLE helper of ``sam2.utils.amg`` adds the others as runs of zeros), ~10x faster on
    720p. Whole columns, not the box: padding rows costs more than scanning them."""
    import torch


    x0, _, x1, _ = box
    h = mask.shape[0]
    crop = torch.from_numpy(np.ascontiguousarray(mask[:, x0:x1 + 1]))[None]
    return coco_encode_rle(masks_to_rle(crop, crop_box=(x0, 0, x1 + 1, h), orig_hw=mask.shape)[0])


class MaskFiles:
    """Builds the three mask downloads one frame at a time (``add``), so full-size masks
    are never all in memory: the zip is written as frames come, the COCO annotations and
    boxes (small) are collected, and ``close`` finishes the zip with ``objects.json``."""

    def __init__(self, clip: ClipExport, zip_path: Optional[str] = None) -> None:
        if not clip.objects:
            raise ValueError("no objects to export")
        self._categories, self._category_ids = clip.coco_categories()
        self.clip = clip
        self.tracked: List[int] = []
        self.annotations: List[Dict[str, Any]] = []
        self.box_frames: List[Dict[str, Any]] = []
        self._zip: Optional[zipfile.ZipFile] = None
        if zip_path is not None:  # PNGs are compressed already: stored
            self._zip = zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED)
            self._empty = _png_bytes(Image.fromarray(np.zeros((clip.height, clip.width), np.uint8), mode="L"))
            self._folders = {o.obj_id: f"objects/{o.obj_id:03d}_{name_slug(o.name)}" for o in clip.objects}

    def _time(self, f: int) -> Optional[float]:
        return round(f / self.clip.fps, 6) if self.clip.fps else None

    def add(self, f: int, masks: FrameMasks, tracked: bool) -> None:
        """Frame ``f``'s masks (``{obj_id: H x W bool}``, objects absent there left out)."""
        clip = self.clip
        if tracked:
            self.tracked.append(f)
        boxes: Dict[str, List[int]] = {}
        for o in clip.objects:
            m = masks.get(o.obj_id)
            if m is not None and m.shape != (clip.height, clip.width):
                raise ValueError(f"mask {m.shape} of frame {f} does not match {clip.height}x{clip.width}")
            area, box = (0, None) if m is None else mask_area_box(m)
            if self._zip is not None:
                data = self._empty if box is None else _png_bytes(Image.fromarray(m.astype(np.uint8) * 255, mode="L"))
                self._zip.writestr(f"{self._folders[o.obj_id]}/{f:05d}.png", data)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            boxes[str(o.obj_id)] = list(box)
            self.annotations.append({
                "id": len(self.annotations) + 1,
                "image_id": f + 1,
                "frame_index": f,
                "category_id": self._category_ids[o.obj_id],
                "track_id": o.obj_id,
                "segmentation": coco_rle(m, box),
                "area": area,
                "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                "iscrowd": 0,
                "prompted": f in o.prompted_frames,
            })
        self.box_frames.append({"frame": f, "time_s": self._time(f), "tracked": tracked, "boxes": boxes})
        if self._zip is not None:
            self._zip.writestr(f"davis/{f:05d}.png", _png_bytes(label_image(label_map(clip, f, masks))))

    def header(self) -> Dict[str, Any]:
        return self.clip.header(self.tracked)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.writestr("objects.json", json.dumps(self.header(), indent=1))
            self._zip.close()
            self._zip = None

    def coco_document(self) -> Dict[str, Any]:
        clip = self.clip
        images = [{"id": f + 1, "frame_index": f, "file_name": f"{f:05d}.jpg", "width": clip.width,
                   "height": clip.height, "time_s": self._time(f)} for f in range(clip.num_frames)]
        return {
            "info": dict(self.header(), description="SAM 2 video masks",
                         format="COCO RLE (pycocotools.mask.decode); image_id = frame_index + 1"),
            "images": images,
            "categories": self._categories,
            "annotations": list(self.annotations),
        }

    def boxes_document(self) -> Dict[str, Any]:
        return dict(self.header(), box_format="[x0, y0, x1, y1], inclusive pixel bounds",
                    frames=list(self.box_frames))


def _from_store(clip: ClipExport, zip_path: Optional[str] = None) -> MaskFiles:
    files = MaskFiles(clip, zip_path)
    try:
        for f in range(clip.num_frames):
            files.add(f, stored_masks(clip, f), clip.masks.has_frame(f))
    finally:
        files.close()
    return files


def write_masks_zip(clip: ClipExport, path: str) -> str:
    """The masks zip of the app's own masks (processed size and rate)."""
    _from_store(clip, path)
    return path


def coco_document(clip: ClipExport) -> Dict[str, Any]:
    return _from_store(clip).coco_document()


def boxes_document(clip: ClipExport) -> Dict[str, Any]:
    return _from_store(clip).boxes_document()


def write_json(doc: Dict[str, Any], path: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return path
