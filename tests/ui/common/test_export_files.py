"""ui.common.exports: mask, cutout and label PNGs and COCO JSON that other tools read back."""

import json

import numpy as np
import pytest
from PIL import Image


def _image(h=60, w=80):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_mask_cutout_and_label_pngs(tmp_path):
    from ui.common import exports

    img = _image(40, 60)
    a = np.zeros((40, 60), bool); a[5:20, 10:30] = True
    b = np.zeros((40, 60), bool); b[25:35, 40:55] = True
    m = np.asarray(Image.open(exports.write_mask_png(a, str(tmp_path / "m.png"))))
    assert m.dtype == np.uint8 and m.shape == (40, 60) and set(np.unique(m)) == {0, 255}
    assert np.array_equal(m == 255, a)
    cut = Image.open(exports.write_cutout_png(img, a, str(tmp_path / "c.png")))
    assert cut.mode == "RGBA" and cut.size == (60, 40)
    arr = np.asarray(cut)
    assert np.array_equal(arr[..., :3], img) and np.array_equal(arr[..., 3] == 255, a)
    lab_img = Image.open(exports.write_label_png([a, b], str(tmp_path / "l.png")))
    assert lab_img.mode == "P"  # a palette PNG: the ids show in colour, not as near-black greys
    pal = lab_img.getpalette()
    assert pal[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0] and pal == exports.davis_palette()[:len(pal)]
    lab = np.asarray(lab_img)
    assert lab[10, 15] == 1 and lab[30, 45] == 2 and lab[0, 0] == 0
    rgb = np.asarray(lab_img.convert("RGB"))
    assert tuple(rgb[10, 15]) == (128, 0, 0) and tuple(rgb[30, 45]) == (0, 128, 0) and tuple(rgb[0, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match="does not match"):
        exports.write_cutout_png(img, np.zeros((5, 5), bool), str(tmp_path / "x.png"))
    assert exports.safe_stem("/tmp/My Photo (1).JPG") == "My_Photo_1"
    assert exports.safe_stem(None) == "image"


def test_coco_json_decodes_with_pycocotools(tmp_path):
    from pycocotools import mask as mask_utils

    from ui.common import exports

    a = np.zeros((40, 60), bool); a[5:20, 10:30] = True
    b = np.zeros((40, 60), bool); b[25:35, 40:55] = True; b[0, 0] = True
    items = [exports.ExportedMask(a, "Object 1", 0.9, 0.8, [[12.0, 7.0]], [1], (10, 5, 29, 19)),
             exports.ExportedMask(b, "Object 2")]
    path = exports.write_coco_json(items, (40, 60), str(tmp_path / "m.json"), file_name="x.png")
    doc = json.load(open(path))
    assert doc["images"][0] == {"id": 1, "file_name": "x.png", "height": 40, "width": 60}
    anns = doc["annotations"]
    assert [x["label"] for x in anns] == ["Object 1", "Object 2"]
    for ann, m in zip(anns, (a, b)):
        rle = dict(ann["segmentation"])
        rle["counts"] = rle["counts"].encode()
        assert np.array_equal(mask_utils.decode(rle).astype(bool), m)
        assert ann["area"] == int(m.sum())
    assert anns[0]["bbox"] == [10, 5, 20, 15]  # COCO widths count pixels: columns 10..29 are 20
    assert anns[0]["predicted_iou"] == pytest.approx(0.9) and anns[0]["point_labels"] == [1]
    assert "predicted_iou" not in anns[1]
