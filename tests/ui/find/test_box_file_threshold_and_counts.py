"""Box files obey the page's score threshold slider, and counts of numbered labels read well.

The issue: a box file loaded with the slider at 0.3 kept every box and said "score >= 0.00",
and a file without category names reported "Found 2 category 1s".
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ui.common.words import plural
from ui.find.finder import boxes_from_file, count_summary

IMAGE = np.zeros((80, 120, 3), np.uint8)
IMAGE[10:40, 10:60] = 200


@pytest.fixture(scope="module")
def predictor(tiny_model):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    p = SAM2ImagePredictor(tiny_model)
    p.set_image(IMAGE)
    return p


def _file(tmp_path, scores, names=True):
    doc = {"images": [{"id": 1, "width": 120, "height": 80}],
           "annotations": [{"image_id": 1, "category_id": 1, "bbox": [10 + 15 * i, 10, 20, 20], "score": s}
                           for i, s in enumerate(scores)]}
    if names:
        doc["categories"] = [{"id": 1, "name": "car"}]
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_box_file_keeps_only_boxes_at_or_above_the_threshold(predictor, tmp_path):
    path = _file(tmp_path, [0.9, 0.5, 0.2])
    out = boxes_from_file(predictor, IMAGE, path, 0.3)
    assert sorted(round(o.score, 2) for o in out.objects) == [0.5, 0.9]
    assert "score >= 0.30" in out.message and "2 cars" in out.message
    out = boxes_from_file(predictor, IMAGE, path, 0.95)
    assert not out.objects and "0.95" in out.message


def test_numbered_labels_are_counted_as_names(predictor, tmp_path):
    out = boxes_from_file(predictor, IMAGE, _file(tmp_path, [0.9, 0.8], names=False), 0.3)
    assert "category 1s" not in out.message
    assert "Found 2 of category 1" in out.message
    assert plural("class 3", 1) == plural("class 3", 2) == "class 3"
    assert count_summary({"class 3": 1}) == "1 of class 3"
    assert count_summary({"category 1": 2, "car": 3}) == "3 cars, 2 of category 1"


def test_the_page_and_api_pass_the_slider_to_the_box_file_upload():
    """The file upload event's inputs are the file and the same slider the Find button uses."""
    from ui.page import AppConfig, build_demo

    demo = build_demo(AppConfig(video=False, examples_dir=None))
    comps = {c._id: c for c in demo.blocks.values()}
    slider = [c for c in comps.values() if getattr(c, "elem_id", None) == "image-find-threshold"]
    if not slider:
        pytest.skip("Find is not built in this configuration")
    uploads = [d for d in demo.config["dependencies"]
               if any(comps[i].elem_id == "image-find-file" for i in d["inputs"])]
    assert uploads and all(slider[0]._id in d["inputs"] for d in uploads)
