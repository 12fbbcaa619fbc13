"""The output files: COCO annotations (RLE), YOLO-seg labels, palette PNG masks, per-video exports.

Formats are the app's (``ui/image/exports.py``, ``ui/video/exports.py``): COCO RLE strings as
``pycocotools.mask.encode`` writes them (made by ``sam2.utils.amg``), ``bbox`` as
``pycocotools.mask.toBbox`` gives it (``[x, y, w, h]`` of the mask's pixels, ``w = x1 - x0 + 1``),
label PNGs with the DAVIS palette where pixel value k is object k (later objects win
overlaps; at most 255 objects in a PNG). YOLO-seg: one line per object,
``class x1 y1 x2 y2 ...`` normalised to 0..1, the outline of the object's largest
region (Ultralytics' label format; objects with no region of 3+ outline points are left
out of the label file but stay in the COCO file).

Files of one item are written first, its part (``manifest``) last, each atomically.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from sam2.annotate.files import atomic_write, replace_folder
from sam2.annotate.results import Found, ItemResult
from sam2.media.palette import davis_palette


_PALETTE = davis_palette()


def label_png_bytes(labels: np.ndarray) -> bytes:
    img = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    img.putpalette(_PALETTE)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def mask_bbox(mask: np.ndarray) -> Tuple[int, List[int]]:
    """(area, pycocotools ``toBbox``) of a bool mask; ``[0, 0, 0, 0]`` when empty."""
    area = int(np.count_nonzero(mask))
    if not area:
        return 0, [0, 0, 0, 0]
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return area, [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def coco_rle(mask: np.ndarray, bbox: Sequence[int]) -> Dict[str, Any]:
    """COCO RLE of a mask, scanning only the columns of its box (the others are zero runs)."""
    import torch

    from sam2.utils.amg import coco_encode_rle, masks_to_rle

    h, w = mask.shape
    x0, bw = int(bbox[0]), int(bbox[2])
    if bw == 0:
        x0, bw = 0, w
    crop = torch.from_numpy(np.ascontiguousarray(mask[:, x0:x0 + bw]))[None]
    return coco_encode_rle(masks_to_rle(crop, crop_box=(x0, 0, x0 + bw, h), orig_hw=(h, w))[0])


def _round(v: Optional[float]) -> Optional[float]:
    return None if v is None else round(float(v), 6)


def coco_annotation(obj: Found, category_id: int) -> Dict[str, Any]:
    """One object as a COCO annotation (without ``id``/``image_id``, given at the merge)."""
    mask = np.asarray(obj.mask, dtype=bool)
    area, bbox = mask_bbox(mask)
    ann: Dict[str, Any] = {"category_id": category_id, "label": obj.label, "segmentation": coco_rle(mask, bbox),
                           "area": area, "bbox": bbox, "iscrowd": 0, "score": _round(obj.score)}
    if obj.predicted_iou is not None:
        ann["predicted_iou"] = _round(obj.predicted_iou)
    if obj.stability_score is not None:
        ann["stability_score"] = _round(obj.stability_score)
    if obj.prompt_box is not None:
        ann["prompt_box_xyxy"] = [_round(v) for v in obj.prompt_box]
    if len(obj.point_coords):
        ann["point_coords"] = [[_round(x), _round(y)] for x, y in obj.point_coords]
        ann["point_labels"] = [int(v) for v in obj.point_labels]
    return ann


def yolo_line(mask: np.ndarray, class_index: int) -> Optional[str]:
    """``class x1 y1 ...`` (normalised) of the largest region's outline, None when there is none."""
    import cv2

    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contours = [c for c in contours if len(c) >= 3]
    if not contours:
        return None
    best = max(contours, key=lambda c: (cv2.contourArea(c), len(c)))
    h, w = mask.shape
    pts = best.reshape(-1, 2).astype(np.float64) / np.array([w, h], dtype=np.float64)
    return f"{class_index} " + " ".join(f"{v:.6f}" for v in np.clip(pts, 0.0, 1.0).ravel())


def stem_path(folder: str, key: str, ext: str) -> str:
    return os.path.join(folder, *(os.path.splitext(key)[0] + ext).split("/"))


def write_image_files(result: ItemResult, out: str, categories: Sequence[str], yolo: bool,
                      png: bool) -> Dict[str, Any]:
    """Write an image's label/PNG files; returns its part (COCO annotations included)."""
    ids = {name: i for i, name in enumerate(categories)}
    part: Dict[str, Any] = {"key": result.key, "kind": result.kind, "status": result.status,
                            "reason": result.reason, "height": result.height, "width": result.width}
    if result.status != "done":
        return part
    anns, lines = [], []
    labels = np.zeros((result.height, result.width), np.uint8) if png else None
    for k, obj in enumerate(result.objects):
        index = ids[obj.label]
        anns.append(coco_annotation(obj, index + 1))
        if yolo:
            line = yolo_line(obj.mask, index)
            if line is not None:
                lines.append(line)
        if labels is not None and k < 255:
            labels[np.asarray(obj.mask, dtype=bool)] = k + 1
    if yolo:
        atomic_write(stem_path(os.path.join(out, "labels"), result.key, ".txt"),
                     "".join(line + "\n" for line in lines))
    if labels is not None:
        atomic_write(stem_path(os.path.join(out, "masks"), result.key, ".png"), label_png_bytes(labels))
    part["annotations"] = anns
    return part


class VideoFiles:
    """One video's exports, written frame by frame into a temporary folder moved into place at the end.

    ``videos/<key>/coco.json``: the app's per-frame COCO (one ``image`` per frame, one
    ``category`` per label, annotations with ``track_id``); ``videos/<key>/davis/NNNNN.png``:
    palette PNGs, pixel value = object id; ``objects.json``: ids, labels, prompted frames.
    """

    def __init__(self, out: str, key: str, width: int, height: int, num_frames: int, fps: float,
                 objects: Sequence[Dict[str, Any]], categories: Sequence[str]) -> None:
        self.final = os.path.join(out, "videos", *key.split("/"))
        self.tmp = os.path.join(os.path.dirname(self.final), f".{os.path.basename(self.final)}.tmp-{os.getpid()}")
        if os.path.isdir(self.tmp):
            import shutil

            shutil.rmtree(self.tmp)
        os.makedirs(os.path.join(self.tmp, "davis"), exist_ok=True)
        self.key, self.width, self.height = key, width, height
        self.num_frames, self.fps = num_frames, fps
        self.objects = list(objects)
        ids = {name: i + 1 for i, name in enumerate(categories)}
        self.categories = [{"id": ids[n], "name": n} for n in categories]
        self.category_of = {o["id"]: ids[o["label"]] for o in self.objects}
        self.annotations: List[Dict[str, Any]] = []
        self.tracked: List[int] = []

    def add(self, frame: int, masks: Dict[int, np.ndarray]) -> None:
        """Frame ``frame``'s masks, ``{object id: H x W bool}``."""
        self.tracked.append(frame)
        labels = np.zeros((self.height, self.width), np.uint8)
        for obj in self.objects:
            m = masks.get(obj["id"])
            if m is None:
                continue
            area, bbox = mask_bbox(m)
            if not area:
                continue
            labels[m] = obj["id"]
            self.annotations.append({
                "id": len(self.annotations) + 1, "image_id": frame + 1, "frame_index": frame,
                "category_id": self.category_of[obj["id"]], "track_id": obj["id"],
                "segmentation": coco_rle(m, bbox), "area": area, "bbox": bbox, "iscrowd": 0,
                "prompted": frame in obj.get("prompted_frames", ()),
            })
        with open(os.path.join(self.tmp, "davis", f"{frame:05d}.png"), "wb") as f:
            f.write(label_png_bytes(labels))

    def header(self) -> Dict[str, Any]:
        return {"video": self.key, "width": self.width, "height": self.height, "num_frames": self.num_frames,
                "fps": self.fps, "tracked_frames": sorted(self.tracked), "objects": self.objects}

    def finish(self) -> List[str]:
        empty = None
        for f in sorted(set(range(self.num_frames)) - set(self.tracked)):  # never tracked: an empty PNG, as the app
            empty = empty or label_png_bytes(np.zeros((self.height, self.width), np.uint8))
            with open(os.path.join(self.tmp, "davis", f"{f:05d}.png"), "wb") as fh:
                fh.write(empty)
        time = (lambda f: round(f / self.fps, 6) if self.fps else None)
        images = [{"id": f + 1, "frame_index": f, "file_name": f"{f:05d}.jpg", "width": self.width,
                   "height": self.height, "time_s": time(f)} for f in range(self.num_frames)]
        doc = {"info": dict(self.header(), description="SAM 2 video masks",
                            format="COCO RLE (pycocotools.mask.decode); image_id = frame_index + 1"),
               "images": images, "categories": self.categories,
               "annotations": sorted(self.annotations, key=lambda a: (a["frame_index"], a["track_id"]))}
        for i, a in enumerate(doc["annotations"], start=1):
            a["id"] = i
        with open(os.path.join(self.tmp, "coco.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f)
        with open(os.path.join(self.tmp, "objects.json"), "w", encoding="utf-8") as f:
            json.dump(self.header(), f, indent=1)
        replace_folder(self.tmp, self.final)
        return ["coco.json", "objects.json", "davis/"]

    def abandon(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
