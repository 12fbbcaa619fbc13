"""Downloads of a tracked clip: mask PNGs in a zip, COCO-style RLE JSON, boxes JSON.

All files have the clip's resolution (the frames the app worked on, after any downscaling
on upload) and frame numbering (0-based, after any frame-rate reduction); the JSON files
record both, and the original file's size and rate, so results can be mapped back.

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
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ui.exports import davis_palette, label_image, safe_stem  # noqa: F401 - davis_palette re-exported
from ui.video_state import MaskStore


@dataclass(frozen=True)
class ObjectInfo:
    obj_id: int
    name: str
    color: Tuple[int, int, int]
    prompted_frames: Tuple[int, ...] = ()


@dataclass(frozen=True)
class ClipExport:
    """Everything the downloads are made from."""

    name: str
    num_frames: int
    height: int
    width: int
    fps: float
    objects: Sequence[ObjectInfo]
    masks: MaskStore
    source_size: Optional[Tuple[int, int]] = None  # (w, h) of the uploaded file
    source_fps: Optional[float] = None

    @property
    def stem(self) -> str:
        return safe_stem(self.name, default="video")

    def header(self) -> Dict[str, Any]:
        return {
            "video": self.name,
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "source_width": None if self.source_size is None else self.source_size[0],
            "source_height": None if self.source_size is None else self.source_size[1],
            "source_fps": self.source_fps,
            "tracked_frames": self.masks.frames(),
            "objects": [
                {"id": o.obj_id, "name": o.name, "color": list(o.color),
                 "prompted_frames": list(o.prompted_frames)}
                for o in self.objects
            ],
        }


def name_slug(name: str, default: str = "object") -> str:
    """A file-name-safe form of an object name (``"box/thing"`` -> ``"box_thing"``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._")[:40] or default


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def label_map(clip: ClipExport, frame: int) -> np.ndarray:
    """H x W uint8: object id per pixel (0 = background); later objects win overlaps."""
    labels = np.zeros((clip.height, clip.width), dtype=np.uint8)
    for o in clip.objects:
        m = clip.masks.mask(frame, o.obj_id)
        if m is not None:
            labels[m] = o.obj_id
    return labels


def write_masks_zip(clip: ClipExport, path: str) -> str:
    if not clip.objects:
        raise ValueError("no objects to export")
    empty = _png_bytes(Image.fromarray(np.zeros((clip.height, clip.width), np.uint8), mode="L"))
    folders = {o.obj_id: f"objects/{o.obj_id:03d}_{name_slug(o.name)}" for o in clip.objects}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for f in range(clip.num_frames):
            for o in clip.objects:
                m = clip.masks.mask(f, o.obj_id)
                data = empty if m is None or not m.any() else _png_bytes(
                    Image.fromarray(m.astype(np.uint8) * 255, mode="L"))
                zf.writestr(f"{folders[o.obj_id]}/{f:05d}.png", data)
            zf.writestr(f"davis/{f:05d}.png", _png_bytes(label_image(label_map(clip, f))))
        zf.writestr("objects.json", json.dumps(clip.header(), indent=1))
    return path


def coco_document(clip: ClipExport) -> Dict[str, Any]:
    from sam2.utils.amg import mask_to_coco_rle

    images = [{"id": f + 1, "frame_index": f, "file_name": f"{f:05d}.jpg", "width": clip.width,
               "height": clip.height, "time_s": round(f / clip.fps, 6) if clip.fps else None}
              for f in range(clip.num_frames)]
    categories = [{"id": o.obj_id, "name": o.name} for o in clip.objects]
    annotations: List[Dict[str, Any]] = []
    for f in clip.masks.frames():
        for o in clip.objects:
            packed = clip.masks.get(f, o.obj_id)
            if packed is None or packed.area == 0 or packed.box is None:
                continue
            x0, y0, x1, y1 = packed.box
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": f + 1,
                "frame_index": f,
                "category_id": o.obj_id,
                "track_id": o.obj_id,
                "segmentation": mask_to_coco_rle(packed.unpack()),
                "area": packed.area,
                "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                "iscrowd": 0,
                "prompted": f in o.prompted_frames,
            })
    return {
        "info": dict(clip.header(), description="SAM 2 video masks",
                     format="COCO RLE (pycocotools.mask.decode); image_id = frame_index + 1"),
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }


def boxes_document(clip: ClipExport) -> Dict[str, Any]:
    tracked = set(clip.masks.frames())
    frames = []
    for f in range(clip.num_frames):
        boxes: Dict[str, List[int]] = {}
        for o in clip.objects:
            packed = clip.masks.get(f, o.obj_id)
            if packed is not None and packed.box is not None:
                boxes[str(o.obj_id)] = list(packed.box)
        frames.append({"frame": f, "time_s": round(f / clip.fps, 6) if clip.fps else None,
                       "tracked": f in tracked, "boxes": boxes})
    return dict(clip.header(), box_format="[x0, y0, x1, y1], inclusive pixel bounds", frames=frames)


def write_json(doc: Dict[str, Any], path: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return path
