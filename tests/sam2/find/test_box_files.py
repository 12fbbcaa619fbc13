"""COCO detections JSON and YOLO .txt files -> labelled boxes, against hand-made files."""

from __future__ import annotations

import json

import pytest

from sam2.find import BoxFileError, parse_class_names, read_box_file

HW = (480, 640)  # the image the files are for: 640 wide, 480 high


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- COCO
def test_coco_results_list(tmp_path):
    path = _write(tmp_path, "dets.json", [
        {"image_id": 7, "category_id": 3, "bbox": [10, 20, 100, 50], "score": 0.8},
        {"image_id": 7, "category_id": 1, "bbox": [300.5, 200, 40, 80.25]},
    ])
    dets = read_box_file(path, HW)
    assert [(d.box, d.label, d.score) for d in dets] == [
        ((10.0, 20.0, 110.0, 70.0), "category 3", 0.8),
        ((300.5, 200.0, 340.5, 280.25), "category 1", 1.0),
    ]
    named = read_box_file(path, HW, names={3: "car", 1: "person"})
    assert [d.label for d in named] == ["car", "person"]


def test_coco_document_with_categories_and_matching_size(tmp_path):
    doc = {
        "images": [{"id": 1, "file_name": "street.jpg", "width": 640, "height": 480}],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 640, 480], "score": 0.5},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [630, 470, 15, 14], "score": 0.7},  # overshoots a bit
        ],
    }
    dets = read_box_file(_write(tmp_path, "doc.json", doc), HW)
    assert [d.label for d in dets] == ["car", "person"]
    assert dets[1].box == (630.0, 470.0, 640.0, 480.0)  # a small overshoot is clipped, not refused


def test_coco_for_another_image_size_is_refused(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "other.jpg", "width": 1920, "height": 1080}],
           "annotations": [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}]}
    with pytest.raises(BoxFileError, match=r"1920x1080 image \(other.jpg\), this image is 640x480"):
        read_box_file(_write(tmp_path, "doc.json", doc), HW)


def test_coco_boxes_outside_the_image_are_refused(tmp_path):
    dets = [{"category_id": 1, "bbox": [10, 10, 20, 20]}, {"category_id": 1, "bbox": [1200, 700, 100, 100]}]
    with pytest.raises(BoxFileError, match="1 of 2 boxes lie outside this 640x480 image.*another image"):
        read_box_file(_write(tmp_path, "d.json", dets), HW)


def test_coco_with_several_images_or_bad_entries(tmp_path):
    several = [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
               {"image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    with pytest.raises(BoxFileError, match="boxes for 2 images"):
        read_box_file(_write(tmp_path, "a.json", several), HW)
    bad = [{"category_id": 1, "bbox": [1, 1, 5]}, {"category_id": 1, "bbox": [1, 1, 0, 5]},
           {"category_id": "car", "bbox": [1, 1, 5, 5]}, {"category_id": 1, "bbox": [1, 1, 5, 5], "score": "high"}]
    with pytest.raises(BoxFileError) as info:
        read_box_file(_write(tmp_path, "b.json", bad), HW)
    msg = str(info.value)
    assert "4 bad entries" in msg and "annotation 0" in msg and "annotation 3" in msg and "Nothing was loaded" in msg
    with pytest.raises(BoxFileError, match=r"not valid JSON \(line 1"):
        read_box_file(_write(tmp_path, "c.json", "[{oops"), HW)
    with pytest.raises(BoxFileError, match="no 'annotations'"):
        read_box_file(_write(tmp_path, "d.json", {"images": []}), HW)


def test_coco_numbers_too_large_for_an_integer_are_bad_entries_not_a_crash(tmp_path):
    """JSON's 1e999 (and Python's Infinity/NaN) decode to floats ``int()`` cannot take."""
    text = ('{"images": [{"id": 1, "width": 1e999, "height": 480}],'
            ' "categories": [{"id": 1e999, "name": "car"}, {"id": 2, "name": "dog"}],'
            ' "annotations": [{"image_id": 1, "category_id": 1e999, "bbox": [1, 1, 5, 5]},'
            ' {"image_id": 1, "category_id": NaN, "bbox": [1, 1, 5, 5]},'
            ' {"image_id": 1, "category_id": 2, "bbox": [1, 1, 5, 5], "score": Infinity}]}')
    with pytest.raises(BoxFileError) as info:
        read_box_file(_write(tmp_path, "huge.json", text), HW)
    msg = str(info.value)
    assert "3 bad entries" in msg and "category_id must be an integer, got inf" in msg and "score" in msg
    fine = text.replace('"category_id": 1e999', '"category_id": 2').replace('NaN', '2').replace('Infinity', '0.5')
    assert [d.label for d in read_box_file(_write(tmp_path, "ok.json", fine), HW)] == ["dog"] * 3


# ----------------------------------------------------------------------------- YOLO
def test_yolo_lines_with_and_without_names(tmp_path):
    text = "# exported by a YOLO model\n0 0.5 0.5 0.25 0.5 0.9\n\n2 0.1 0.2 0.1 0.1\n"
    path = _write(tmp_path, "frame.txt", text)
    dets = read_box_file(path, HW)
    assert [(d.label, d.score) for d in dets] == [("class 0", 0.9), ("class 2", 1.0)]
    assert dets[0].box == pytest.approx((240.0, 120.0, 400.0, 360.0))
    assert dets[1].box == pytest.approx((32.0, 72.0, 96.0, 120.0))
    named = read_box_file(path, HW, names=parse_class_names("person\nbicycle\ncar\n"))
    assert [d.label for d in named] == ["person", "car"]
    assert parse_class_names("person, bicycle, car") == ["person", "bicycle", "car"]


def test_yolo_bad_lines_are_named_by_number(tmp_path):
    text = "\n".join([
        "0 0.5 0.5 0.2 0.2",        # 1: fine
        "1 0.5 0.5 0.2",            # 2: a field missing
        "cat 0.5 0.5 0.2 0.2",      # 3: class not a number
        "0 320 240 50 50",          # 4: pixels, not normalised
        "0 0.5 0.5 0.2 0.2 1.7",    # 5: confidence above 1
        "1.5 0.5 0.5 0.2 0.2",      # 6: class not whole
        "0 0.5 0.5 0 0.2",          # 7: zero width
    ])
    with pytest.raises(BoxFileError) as info:
        read_box_file(_write(tmp_path, "bad.txt", text), HW)
    msg = str(info.value)
    for n in (2, 3, 4, 5, 6):
        assert f"line {n}" in msg
    assert "line 1:" not in msg and "6 bad lines" in msg and "(and 1 more)" in msg and "look like pixels" in msg


def test_files_are_recognised_and_limited(tmp_path):
    sniffed = read_box_file(_write(tmp_path, "dets", [{"category_id": 1, "bbox": [1, 1, 5, 5]}]), HW)
    assert len(sniffed) == 1
    assert read_box_file(_write(tmp_path, "empty.txt", "\n# nothing\n"), HW) == []
    binary = tmp_path / "x.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(BoxFileError, match="not a text file"):
        read_box_file(binary, HW)
    with pytest.raises(BoxFileError, match="not found"):
        read_box_file(tmp_path / "missing.json", HW)
