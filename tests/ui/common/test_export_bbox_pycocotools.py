"""Every COCO file the app writes gives the ``bbox`` pycocotools computes from the same RLE.

The issue: an 800-px-wide mask was exported with width 799 (SAM's inclusive box ends used as
a width). Checked here against ``pycocotools.mask.toBbox`` for the image tab's objects and
"segment everything" files and for the video tab's COCO file, on masks touching the borders,
single pixels and a full-width mask.
"""

from __future__ import annotations

import numpy as np
import pytest

from ui.common import exports
from ui.video.exports import ClipExport, ObjectInfo, coco_document as clip_coco_document
from ui.video.state import MaskStore

mask_util = pytest.importorskip("pycocotools.mask")


def _masks(h: int = 30, w: int = 800) -> list:
    full_width = np.zeros((h, w), bool)
    full_width[5:9, :] = True  # 800 columns: COCO width 800
    pixel = np.zeros((h, w), bool)
    pixel[29, 799] = True  # one pixel in the bottom-right corner: width and height 1
    blob = np.zeros((h, w), bool)
    blob[0:12, 3:8] = True  # columns 3..7 -> width 5
    blob[20, 100] = True
    return [full_width, pixel, blob]


def _coco_boxes(doc: dict) -> list:
    return [a["bbox"] for a in doc["annotations"]]


def _truth(doc: dict) -> list:
    out = []
    for a in doc["annotations"]:
        rle = dict(a["segmentation"], counts=a["segmentation"]["counts"].encode())
        out.append([int(round(v)) for v in mask_util.toBbox(rle).tolist()])
    return out


def test_image_objects_bbox_is_pycocotools_bbox():
    masks = _masks()
    doc = exports.coco_document([exports.ExportedMask(mask=m, label=f"o{i}") for i, m in enumerate(masks)],
                                masks[0].shape)
    assert _coco_boxes(doc) == _truth(doc)
    assert _coco_boxes(doc)[0] == [0, 5, 800, 4]
    assert _coco_boxes(doc)[1] == [799, 29, 1, 1]
    assert _coco_boxes(doc)[2] == [3, 0, 98, 21]
    for a, m in zip(doc["annotations"], masks):  # and the masks themselves round-trip
        rle = dict(a["segmentation"], counts=a["segmentation"]["counts"].encode())
        assert np.array_equal(mask_util.decode(rle).astype(bool), m)
        assert a["area"] == int(mask_util.area(rle))


def test_everything_file_bbox_is_pycocotools_bbox(tmp_path):
    from ui.image.exports import write_everything_json
    from ui.image.state import EverythingResult, ImageSession
    import json

    masks = _masks()
    st = ImageSession(image=np.zeros(masks[0].shape + (3,), np.uint8), name="wide.png")
    st.everything = EverythingResult(masks=masks, records=[{"predicted_iou": 0.9}] * len(masks), seconds=0.1)
    doc = json.load(open(write_everything_json(st, lambda n: str(tmp_path / n))))
    assert _coco_boxes(doc) == _truth(doc)
    assert doc["annotations"][0]["bbox"][2] == 800


def test_coco_bbox_of_an_empty_mask_is_zero():
    assert exports.coco_bbox(np.zeros((4, 5), bool)) == [0, 0, 0, 0]


def test_video_coco_bbox_is_pycocotools_bbox():
    masks = _masks()
    store = MaskStore()
    for f, m in enumerate(masks):
        store.put(f, 1, m)
    clip = ClipExport("wide.mp4", len(masks), masks[0].shape[0], masks[0].shape[1], 10.0,
                      [ObjectInfo(1, "thing", (255, 0, 0))], store)
    doc = clip_coco_document(clip)
    assert len(doc["annotations"]) == 3
    assert _coco_boxes(doc) == _truth(doc)
    assert _coco_boxes(doc)[0] == [0, 5, 800, 4]
