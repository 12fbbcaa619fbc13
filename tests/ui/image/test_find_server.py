"""The image tab's "Find objects", end to end: ``python app.py`` driven by ``gradio_client``.

The app runs offline with random SAM 2 tiny weights and, as its detector
(``SAM2_FIND_DETECTOR``), a seeded random miniature Grounding DINO written to a folder
here (``sam2.find.testing``). Its boxes are meaningless but fixed, so the test asks the
same detector for the expected boxes in-process and checks that the app made exactly one
labelled object per kept box, counted them in the status, kept them refinable and
removable, and named them as COCO categories in the export.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.support.app import find_app, random_detector_dir
from tests.support.hub_cache import REPO_ROOT

pytest.importorskip("transformers")
gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

STREET = os.path.join(REPO_ROOT, "examples", "street.jpg")  # 1200 x 800
WORDS = ["car", "person"]
THRESHOLD = 0.95


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    return random_detector_dir(tmp_path_factory, WORDS)


@pytest.fixture(scope="module")
def app(tmp_path_factory, detector_dir):
    with find_app(tmp_path_factory, detector_dir, ["--no-video", "--device", "cpu"]) as proc:
        yield proc


@pytest.fixture
def client(app):
    c = Client(app.url, verbose=False)
    yield c
    c.close()


def _expected_counts(detector_dir, query, threshold):
    """What the same detector keeps on the same pixels: {label: count}."""
    from sam2.find import find_boxes, load_detector
    from sam2.media.images import load_image

    detector = load_detector(detector_dir, device="cpu")
    _, selection = find_boxes(load_image(STREET), query, detector=detector, threshold=threshold)
    counts = {}
    for d in selection.kept:
        counts[d.label] = counts.get(d.label, 0) + 1
    return counts


def _labels(objects):
    names = [c[0] for c in objects["choices"]]
    return [m.group(1) for m in (re.match(r"Object \d+: (\w+) [\d.]+$", n) for n in names) if m], names


def _object_names(client):
    """The session's object list as the page would show it now."""
    *_, objects, _ = client.predict(0, api_name="/select_object")
    return [c[0] for c in objects["choices"]]


def _coco(client):
    files, status = client.predict(api_name="/export")
    path = [f for f in files if f.endswith("_masks.json")][0]
    with open(path) as f:
        return json.load(f)


def test_find_endpoints_are_published(app):
    info = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
    eps = info["named_endpoints"]
    assert [p["parameter_name"] for p in eps["/find"]["parameters"]] == ["query", "threshold"]
    assert [p["parameter_name"] for p in eps["/find_boxes_file"]["parameters"]] == ["file", "threshold"]


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_find_adds_labelled_objects_counts_them_and_exports_their_categories(client, detector_dir):
    expected = _expected_counts(detector_dir, "car, person", THRESHOLD)
    assert sum(expected.values()) >= 2, expected  # the fixed random detector does find some
    client.predict(handle_file(STREET), api_name="/load_image")
    canvas, _, _, objects, status = client.predict("car, person", THRESHOLD, api_name="/find")
    labels, names = _labels(objects)
    assert len(names) == sum(expected.values()), (names, expected)  # the empty "Object 1" made way
    assert {label: labels.count(label) for label in set(labels)} == expected
    for label, n in expected.items():
        word = {"person": "people" if n != 1 else "person", "car": "cars" if n != 1 else "car"}[label]
        assert f"{n} {word}" in status, status
    assert objects["value"] == 0 and names[0].startswith("Object 1: ")
    # A found object is an ordinary object: a click refines it, it can be removed.
    _, _, _, objects2, status2 = client.predict(api_name="/refine")
    assert "refined" in status2 and objects2["choices"] == objects["choices"]
    doc = _coco(client)
    names_by_id = {c["id"]: c["name"] for c in doc["categories"]}
    assert sorted(names_by_id.values()) == sorted(expected)
    got = [names_by_id[a["category_id"]] for a in doc["annotations"]]
    assert sorted(got) == sorted(labels)
    _, _, _, objects3, _ = client.predict(api_name="/remove_object")
    assert len(objects3["choices"]) == len(names) - 1


def test_bad_queries_leave_the_session_unchanged(client):
    client.predict(handle_file(STREET), api_name="/load_image")
    client.predict(600, 400, True, api_name="/add_point")
    for query, words in [("", "empty"), ("?!, ;", "no word"), ("car " * 125, "characters"),
                         ("car", "lower the threshold")]:
        threshold = 1.0 if query == "car" else THRESHOLD
        *_, status = client.predict(query, threshold, api_name="/find")
        assert words in status.lower(), (query[:20], status)
        assert _object_names(client) == ["Object 1"]
    *_, status = client.predict("car", "abc", api_name="/find")
    assert "threshold must be a number" in status, status
    # ... and still works afterwards.
    _, _, _, objects, status = client.predict("car", THRESHOLD, api_name="/find")
    assert len(objects["choices"]) > 1 and objects["choices"][0][0] == "Object 1"


def test_boxes_from_coco_and_yolo_files(client, tmp_path):
    client.predict(handle_file(STREET), api_name="/load_image")
    coco = tmp_path / "dets.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "width": 1200, "height": 800}],
        "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
        "annotations": [{"image_id": 1, "category_id": 3, "bbox": [100, 400, 300, 150], "score": 0.9},
                        {"image_id": 1, "category_id": 3, "bbox": [600, 420, 250, 140], "score": 0.8},
                        {"image_id": 1, "category_id": 1, "bbox": [950, 300, 80, 250], "score": 0.7}],
    }))
    _, _, _, objects, status = client.predict(handle_file(str(coco)), api_name="/find_boxes_file")
    labels, names = _labels(objects)
    assert sorted(labels) == ["car", "car", "person"], names
    assert "2 cars, 1 person" in status
    yolo = tmp_path / "dets.txt"
    yolo.write_text("0 0.5 0.5 0.2 0.3 0.9\n1 0.2 0.7 0.1 0.1 0.6\n")
    _, _, _, objects, status = client.predict(handle_file(str(yolo)), api_name="/find_boxes_file")
    assert len(objects["choices"]) == 5, objects  # added to the three from the COCO file
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a box file\n")
    *_, status = client.predict(handle_file(str(bad)), api_name="/find_boxes_file")
    assert status.startswith("⚠️"), status
    assert _object_names(client) == [c[0] for c in objects["choices"]]
    assert str(tmp_path) not in status and "/tmp" not in status


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_find_without_a_detector_says_why_and_changes_nothing(tmp_path_factory):
    empty = str(tmp_path_factory.mktemp("no_detector_here"))  # an empty folder
    with find_app(tmp_path_factory, empty, ["--no-video", "--device", "cpu"]) as proc:
        c = Client(proc.url, verbose=False)
        try:
            c.predict(handle_file(STREET), api_name="/load_image")
            c.predict(600, 400, True, api_name="/add_point")
            *_, status = c.predict("car", 0.3, api_name="/find")
            assert "Find is unavailable" in status, status
            assert "/tmp" not in status and str(REPO_ROOT) not in status, status
            assert _object_names(c) == ["Object 1"]
            # The rest of the app works.
            _, _, _, _, status = c.predict(300, 300, True, api_name="/add_point")
            assert "2 foreground" in status, status
        finally:
            c.close()
