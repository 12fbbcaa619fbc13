"""Hostile box files: bounded before parsing, every refusal a "COCO file: " / "YOLO file: "
message (``BoxFileError``, never a RecursionError or TypeError), labels cut like object names."""

from __future__ import annotations

import json
import time

import pytest

from sam2.find import BoxFileError, parse_class_names, read_box_file
from sam2.find.box_files import (MAX_BOXES, MAX_CLASS_ID, MAX_JSON_DEPTH, MAX_LABEL_CHARS, clean_label,
                                 json_depth)

HW = (480, 640)
GOOD = {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _refusal(path) -> str:
    with pytest.raises(BoxFileError) as info:
        read_box_file(path, HW)
    return str(info.value)


def test_deep_json_is_refused_before_parsing(tmp_path):
    t0 = time.perf_counter()
    msg = _refusal(_write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000))
    assert msg.startswith("COCO file: deep.json nests 100000 levels deep") and "Nothing was loaded" in msg
    assert time.perf_counter() - t0 < 5.0
    # brackets inside strings (and escaped quotes) do not count
    assert json_depth('{"a": "[[[[\\"[[[[", "b": [[1]]}') == 3
    assert json_depth("[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1


@pytest.mark.parametrize("doc, expected", [
    ([dict(GOOD, image_id=[1, 2])], "image_id must be a number or a text, got [1, 2]"),
    ([dict(GOOD, image_id={"a": 1})], "image_id must be a number or a text, got {'a': 1}"),
    ({"annotations": [GOOD], "categories": 5}, "'categories' must be a list"),
    ({"annotations": [GOOD], "images": {"id": 1}}, "'images' must be a list"),
    ({"annotations": {"bbox": [1, 2, 3, 4]}}, "expected a list of annotations"),
    ([dict(GOOD, bbox="1234")], "bbox must be [x, y, width, height] (4 numbers), got '1234'"),
    ([dict(GOOD, bbox=["1", "2", "3", "4"])], "bbox must be [x, y, width, height]"),
    ([dict(GOOD, bbox=[1, 2, 3, True])], "bbox must be [x, y, width, height]"),
    ([dict(GOOD, category_id=1e308)], "category_id must be an integer, got 1e+308"),
    ([dict(GOOD, category_id=MAX_CLASS_ID + 1)], "category_id must be an integer"),
    ([dict(GOOD, category_id=2.5)], "category_id must be an integer, got 2.5"),
    ([dict(GOOD, score="0.9")], "score must be a number, got '0.9'"),
    (17, "expected a list of annotations"),
    ('"text"', "expected a list of annotations"),
])
def test_malformed_coco_files_name_the_problem(tmp_path, doc, expected):
    msg = _refusal(_write(tmp_path, "dets.json", doc))
    assert msg.startswith("COCO file: ") and expected in msg, msg


def test_not_json_and_huge_numbers_are_coco_file_messages(tmp_path):
    assert _refusal(_write(tmp_path, "a.json", "[{oops")).startswith("COCO file: a.json is not valid JSON")
    huge = '[{"bbox": [1, 1, 5, 5], "category_id": ' + "9" * 5000 + "}]"  # beyond Python's int digit limit
    assert _refusal(_write(tmp_path, "b.json", huge)).startswith("COCO file: b.json could not be read as JSON")
    big_int = '[{"bbox": [1, 1, 5, 5], "category_id": ' + "9" * 400 + "}]"
    msg = _refusal(_write(tmp_path, "c.json", big_int))
    assert "a 400-digit number" in msg and "9" * 50 not in msg
    assert _refusal(tmp_path / "missing.json").startswith("COCO file: missing.json was not found")
    assert _refusal(tmp_path / "missing.txt").startswith("YOLO file: missing.txt was not found")


def test_too_many_boxes_are_refused_before_reading_them(tmp_path):
    line = "0 0.5 0.5 0.1 0.1\n"
    t0 = time.perf_counter()
    msg = _refusal(_write(tmp_path, "many.txt", line * (MAX_BOXES + 1)))
    assert msg.startswith(f"YOLO file: {MAX_BOXES + 1} box lines; at most {MAX_BOXES}")
    assert time.perf_counter() - t0 < 2.0
    # comments and blank lines are not boxes
    assert len(read_box_file(_write(tmp_path, "ok.txt", "# c\n\n" * MAX_BOXES + line), HW)) == 1
    anns = [GOOD] * (MAX_BOXES + 1)
    assert f"{MAX_BOXES + 1} annotations for one image" in _refusal(_write(tmp_path, "many.json", anns))


def test_yolo_class_ids_are_bounded(tmp_path):
    msg = _refusal(_write(tmp_path, "c.txt", "1e308 0.5 0.5 0.1 0.1\ninf 0.5 0.5 0.1 0.1\n"))
    assert msg.startswith("YOLO file: 2 bad lines") and f"from 0 to {MAX_CLASS_ID}, got 1e308" in msg
    assert len(msg) < 400


def test_labels_are_cut_like_object_names(tmp_path):
    long_name = "a" * (5 * 1024 * 1024)
    doc = {"annotations": [GOOD], "categories": [{"id": 1, "name": long_name}]}
    (det,) = read_box_file(_write(tmp_path, "d.json", doc), HW)
    assert det.label == "a" * MAX_LABEL_CHARS
    (det,) = read_box_file(_write(tmp_path, "e.json", [dict(GOOD, label="  big \n\t red   car " + "x" * 99)]), HW)
    assert det.label == ("big red car " + "x" * 99)[:MAX_LABEL_CHARS]
    names = parse_class_names("person\n" + "dog " * 10_000 + "\n")
    assert names == ["person", ("dog " * 20).strip()[:MAX_LABEL_CHARS].strip()]
    (det,) = read_box_file(_write(tmp_path, "f.txt", "1 0.5 0.5 0.1 0.1\n"), HW, names=names)
    assert len(det.label) <= MAX_LABEL_CHARS
    assert clean_label(None) == "" and clean_label(" a\u2003 b ") == "a b"
