"""sam2.annotate without a model: INPUT expansion, prompt files, output formats, atomic writes, manifest."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
from PIL import Image

from sam2.annotate.files import OutputError, atomic_write, check_writable
from sam2.annotate.manifest import Manifest
from sam2.annotate.prompts import PromptError, load_prompts
from sam2.annotate.sources import InputError, Item, expand_input
from sam2.annotate.writers import coco_rle, mask_bbox, yolo_line


def _touch_image(path, size=(8, 6)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(path)


def test_folder_is_searched_recursively_and_sorted_by_key(tmp_path):
    for name in ("b.jpg", "a/z.png", ".hidden/x.jpg", "a/.dot.jpg"):
        _touch_image(str(tmp_path / name))
    (tmp_path / "a" / "y.mp4").write_bytes(b"x")  # a video by its extension
    (tmp_path / "notes.txt").write_text("not media")
    items = expand_input(str(tmp_path))
    assert [(i.key, i.kind) for i in items] == [("a/y.mp4", "video"), ("a/z.png", "image"), ("b.jpg", "image")]
    assert all(os.path.isabs(i.path) for i in items)


def test_glob_txt_csv_and_parquet_lists(tmp_path):
    for name in ("x/1.jpg", "x/2.jpg", "x/3.png"):
        _touch_image(str(tmp_path / name))
    assert [i.key for i in expand_input(str(tmp_path / "x" / "*.jpg"))] == ["1.jpg", "2.jpg"]
    (tmp_path / "list.txt").write_text("# images\nx/2.jpg\n\nx/1.jpg\nx/2.jpg\n")
    assert [i.key for i in expand_input(str(tmp_path / "list.txt"))] == ["x/1.jpg", "x/2.jpg"]
    (tmp_path / "list.csv").write_text("id,path\n1,x/3.png\n2,x/missing.jpg\n")
    items = expand_input(str(tmp_path / "list.csv"))
    assert [i.key for i in items] == ["x/3.png", "x/missing.jpg"]  # a missing listed file fails later, by name
    import pandas as pd

    pd.DataFrame({"path": [str(tmp_path / "x" / "1.jpg")]}).to_parquet(tmp_path / "list.parquet")
    assert [i.key for i in expand_input(str(tmp_path / "list.parquet"))] == ["x/1.jpg"]


def test_empty_folder_and_missing_input_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no images or videos in the folder"):
        expand_input(str(tmp_path))
    with pytest.raises(InputError, match="INPUT not found"):
        expand_input(str(tmp_path / "nope"))


def test_coco_box_file_per_image_and_names_without_images(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10},
                      {"id": 2, "file_name": "sub/b.jpg", "width": 20, "height": 10},
                      {"id": 3, "file_name": "gone.jpg", "width": 20, "height": 10}],
           "annotations": [{"image_id": 1, "bbox": [1, 1, 5, 5], "category_id": 7, "score": 0.5},
                           {"image_id": 2, "bbox": [2, 2, 4, 4], "category_id": 3}],
           "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    (tmp_path / "b.json").write_text(json.dumps(doc))
    src = load_prompts("boxes", boxes=str(tmp_path / "b.json"))
    assert src.categories == ("cat", "dog")
    a, b, c = Item("a.jpg", "/x/a.jpg", "image"), Item("sub/b.jpg", "/x/sub/b.jpg", "image"), \
        Item("c.jpg", "/x/c.jpg", "image")
    (det,) = src.for_item(a, (10, 20)).boxes[0]
    assert det.box == (1.0, 1.0, 6.0, 6.0) and det.label == "dog" and det.score == 0.5
    assert src.for_item(b, (10, 20)).boxes[0][0].label == "cat"
    assert src.for_item(c, (10, 20)) is None  # not in the file: skipped, not "zero objects"
    assert src.names_without_items([a, b, c]) == ["gone.jpg"]
    with pytest.raises(ValueError, match="it is for a 20x10 image"):  # the app's reader's check
        src.for_item(a, (30, 30))


def test_yolo_label_folder_with_class_names(tmp_path):
    (tmp_path / "labels" / "sub").mkdir(parents=True)
    (tmp_path / "labels" / "classes.txt").write_text("car\nperson\n")
    (tmp_path / "labels" / "sub" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    src = load_prompts("boxes", boxes=str(tmp_path / "labels"))
    assert src.categories == ("car", "person")
    (det,) = src.for_item(Item("sub/a.jpg", "/d/sub/a.jpg", "image"), (10, 20)).boxes[0]
    assert det.label == "person" and det.box == pytest.approx((8.0, 3.0, 12.0, 7.0))
    assert src.names_without_items([]) == ["sub/a.txt"]


def test_points_file_is_checked_whole_before_any_work(tmp_path):
    good = {"a.jpg": [{"points": [[3, 4]], "label": "cup"}, {"points": [[1, 1], [2, 2]], "labels": [1, 0]}]}
    (tmp_path / "p.json").write_text(json.dumps(good))
    src = load_prompts("points", points=str(tmp_path / "p.json"))
    assert src.categories == ("cup", "object")
    objs = src.for_item(Item("a.jpg", "/a.jpg", "image"), (10, 10)).points[0]
    assert objs[0].point_labels == (1,) and objs[1].point_labels == (1, 0)
    with pytest.raises(PromptError, match="outside"):
        src.for_item(Item("a.jpg", "/a.jpg", "image"), (3, 3))
    (tmp_path / "bad.json").write_text(json.dumps({"a.jpg": [{"points": [[1, 2]], "labels": [1, 1]}]}))
    with pytest.raises(PromptError, match="one 0 .* per point"):
        load_prompts("points", points=str(tmp_path / "bad.json"))
    with pytest.raises(PromptError, match="file not found"):
        load_prompts("boxes", boxes=str(tmp_path / "none.json"))


@pytest.mark.parametrize("seed", range(4))
def test_rle_and_bbox_are_what_pycocotools_gives(seed):
    from pycocotools import mask as mask_utils

    rs = np.random.RandomState(seed)
    mask = np.zeros((37, 53), bool)
    if seed:
        mask[rs.randint(0, 20):rs.randint(21, 37), rs.randint(0, 25):rs.randint(26, 53)] = True
        mask &= rs.rand(37, 53) > 0.2
    area, bbox = mask_bbox(mask)
    rle = coco_rle(mask, bbox)
    ref = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert rle["counts"] == ref["counts"].decode("ascii")
    assert bbox == [int(v) for v in mask_utils.toBbox(ref)] and area == int(mask_utils.area(ref))
    assert (mask_utils.decode(rle) == mask).all()


def test_yolo_line_traces_the_largest_region_normalised():
    mask = np.zeros((10, 20), bool)
    mask[2:6, 4:10] = True
    mask[8, 18] = True  # a speck: not the largest region
    cls, *coords = yolo_line(mask, 2).split()
    xy = np.array(coords, float).reshape(-1, 2)
    assert cls == "2"
    assert xy[:, 0].min() == pytest.approx(4 / 20) and xy[:, 0].max() == pytest.approx(9 / 20)
    assert xy[:, 1].min() == pytest.approx(2 / 10) and xy[:, 1].max() == pytest.approx(5 / 10)
    assert yolo_line(np.zeros((4, 4), bool), 0) is None


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write(str(target), "old")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OutputError, match="the disk is full"):
        atomic_write(str(target), "new")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["f.json"]  # no temporary file left behind


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable(str(tmp_path / "file"))


def test_manifest_resumes_done_and_skipped_not_failed_and_refuses_other_options(tmp_path):
    m = Manifest(str(tmp_path))
    assert m.start({"mode": "text"}, overwrite=False) is False
    assert m.start({"mode": "boxes"}, overwrite=False) is False  # nothing done yet: other options are fine
    for key, status in (("a", "done"), ("b", "failed"), ("c", "skipped")):
        m.record({"key": key, "status": status})
    (tmp_path / "parts" / "torn.json").write_text('{"key": "d", "sta')  # never read as a result
    assert m.finished(["a", "b", "c", "d"]) == {"a": "done", "c": "skipped"}
    assert Manifest(str(tmp_path)).start({"mode": "boxes"}, overwrite=False) is True
    with pytest.raises(ValueError, match=r"other options \(mode\).*--overwrite"):
        Manifest(str(tmp_path)).start({"mode": "points"}, overwrite=False)
    (tmp_path / "mine.txt").write_text("not ours")
    Manifest(str(tmp_path)).start({"mode": "points"}, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["mine.txt", "run.json"]


def test_engine_ray_without_ray_names_the_pip_line(tmp_path, monkeypatch):
    import sys

    from sam2.annotate import annotate
    from sam2.annotate.engine_ray import RayUnavailableError

    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" fails as if it were not installed
    _touch_image(str(tmp_path / "in" / "a.png"))
    with pytest.raises(RayUnavailableError, match=r"pip install -r requirements-ray.txt"):
        annotate(str(tmp_path / "in"), str(tmp_path / "out"), everything=True, engine="ray", progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_cli_needs_exactly_one_prompt(tmp_path):
    from sam2.annotate.__main__ import main

    _touch_image(str(tmp_path / "in" / "a.png"))
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--everything", "--text", "x"]) == 1
    assert not (tmp_path / "o").exists()


def test_cli_precision_choices_are_the_apps():
    """``--precision`` takes what the app takes (int8 included) and refuses anything else."""
    from sam2.annotate.__main__ import build_parser
    from sam2.precision import PRECISIONS

    parser = build_parser()
    for precision in PRECISIONS:
        assert parser.parse_args(["in", "--out", "o", "--everything", "--precision", precision]).precision == precision
    with pytest.raises(SystemExit):
        parser.parse_args(["in", "--out", "o", "--everything", "--precision", "half"])
