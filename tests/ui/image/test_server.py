"""End-to-end tests of the image tab: the real ``python app.py`` driven by ``gradio_client``.

The app runs in a child process with a Hugging Face cache that holds random weights for
``facebook/sam2.1-hiera-tiny`` and ``HF_HUB_OFFLINE=1`` -- what a user has after a first
download, minus the network. Random weights give blob-like masks, so the checks are about
structure (sizes, files that decode, masks that follow the prompts), not exact pixels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from tests.support.app import decode_coco, launch_demo
from tests.support.hub_cache import REPO_ROOT, AppProcess, hf_cache_env

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768
STREET = os.path.join(REPO_ROOT, "examples", "street.jpg")  # 1200 x 800


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf_home")))
    with AppProcess(["--no-video", "--device", "cpu"], env) as proc:
        yield proc


@pytest.fixture
def client(app):
    c = Client(app.url, verbose=False)
    yield c
    c.close()


def _mask(path: str) -> np.ndarray:
    arr = np.asarray(Image.open(path))
    assert arr.ndim == 2 and set(np.unique(arr)) <= {0, 255}
    return arr == 255


def _files(client) -> dict:
    files, status = client.predict(api_name="/export")
    assert "ready" in status
    return {os.path.basename(f).split("_", 1)[-1]: f for f in files}


def _decode_coco(path: str):
    doc, masks = decode_coco(path)
    for ann, m in zip(doc["annotations"], masks):
        assert ann["area"] == int(m.sum())
    return doc, masks


def test_named_endpoints_are_published(app):
    info = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
    names = set(info["named_endpoints"])
    for name in ("/load_image", "/add_point", "/add_box", "/undo", "/clear", "/refine", "/pick_candidate",
                 "/new_object", "/select_object", "/remove_object", "/export", "/segment_everything",
                 "/set_model"):
        assert name in names, names


def test_point_prompt_gives_candidates_overlay_and_decodable_files(client):
    canvas, gallery, chosen, objects, status = client.predict(handle_file(SHAPES), api_name="/load_image")
    assert "Image loaded" in status and gallery == []
    before = np.asarray(Image.open(canvas).convert("RGB")).astype(int)
    canvas, gallery, chosen, objects, status = client.predict(230, 260, True, api_name="/add_point")
    after = np.asarray(Image.open(canvas).convert("RGB")).astype(int)
    assert after.shape == before.shape == (768, 1024, 3)
    # The overlay changed, and the clicked spot shows the green foreground marker.
    assert np.abs(after - before).mean() > 1.0
    r, g, b = after[260, 230]
    assert g > 150 and r < 100 and b < 130
    assert len(gallery) == 3 and all("IoU" in g["caption"] and "stability" in g["caption"] for g in gallery)
    assert chosen["value"] in (0, 1, 2) and "✓" in gallery[chosen["value"]]["caption"]
    assert "1 foreground" in status

    files = _files(client)
    mask = _mask(files["mask.png"])
    assert mask.shape == (768, 1024) and mask.any()
    cut = np.asarray(Image.open(files["cutout.png"]))
    assert cut.shape == (768, 1024, 4)
    assert np.array_equal(cut[..., 3] == 255, mask)
    assert np.array_equal(cut[..., :3][mask], np.asarray(Image.open(SHAPES).convert("RGB"))[mask])
    doc, masks = _decode_coco(files["masks.json"])
    assert doc["images"][0]["width"] == 1024 and len(masks) == 1
    assert np.array_equal(masks[0], mask)
    assert doc["annotations"][0]["point_coords"] == [[230.0, 260.0]]


def test_other_prompts_change_the_mask_and_pick_undo_refine_work(client):
    client.predict(handle_file(SHAPES), api_name="/load_image")
    client.predict(230, 260, True, api_name="/add_point")
    first = _mask(_files(client)["mask.png"])
    # A background point elsewhere changes the mask.
    *_, status = client.predict(800, 560, False, api_name="/add_point")
    assert "1 foreground / 1 background" in status
    second = _mask(_files(client)["mask.png"])
    assert not np.array_equal(first, second)
    # Each candidate is its own mask; picking one exports that one.
    exported = []
    for k in range(3):
        _, gallery, chosen, _, _ = client.predict(k, api_name="/pick_candidate")
        assert chosen["value"] == k and "✓" in gallery[k]["caption"]
        exported.append(_mask(_files(client)["mask.png"]))
    assert any(not np.array_equal(exported[0], e) for e in exported[1:])
    # Undo restores the one-point result.
    *_, status = client.predict(api_name="/undo")
    assert "Undid the last point" in status and "1 foreground / 0 background" in status
    client.predict(0, api_name="/pick_candidate")
    # Refine feeds the chosen mask back: a single candidate comes out.
    _, gallery, chosen, _, status = client.predict(api_name="/refine")
    assert len(gallery) == 1 and chosen["value"] == 0 and "refined" in status
    # Only the existing candidate can be picked now.
    assert chosen["choices"] == [[chosen["choices"][0][0], 0]] and "IoU" in chosen["choices"][0][0]
    # A candidate that is not there gets the handler's own message (the session carries on).
    *_, status = client.predict(2, api_name="/pick_candidate")
    assert "Candidate 3 does not exist" in status
    *_, status = client.predict(api_name="/undo")
    assert "refinement" in status


def test_box_with_points_and_several_objects(client):
    client.predict(handle_file(SHAPES), api_name="/load_image")
    canvas, gallery, _, _, status = client.predict(470, 90, 780, 330, api_name="/add_box")
    assert "box" in status and len(gallery) == 3
    img = np.asarray(Image.open(canvas).convert("RGB")).astype(int)
    # The box outline is drawn in the object's colour (dodger blue) on its left edge.
    assert np.abs(img[200, 470] - np.array([30, 144, 255])).sum() < 120
    client.predict(620, 210, True, api_name="/add_point")
    box_mask = _mask(_files(client)["mask.png"])
    _, _, _, objects, status = client.predict(api_name="/new_object")
    assert objects["value"] == 1 and len(objects["choices"]) == 2 and "Object 2" in status
    client.predict(230, 260, True, api_name="/add_point")
    files = _files(client)
    doc, masks = _decode_coco(files["masks.json"])
    assert [a["label"] for a in doc["annotations"]] == ["Object 1", "Object 2"]
    assert np.array_equal(masks[0], box_mask)
    assert doc["annotations"][0]["prompt_box_xyxy"] == [470.0, 90.0, 780.0, 330.0]
    labels = np.asarray(Image.open(files["labels.png"]))
    assert labels.shape == (768, 1024) and set(np.unique(labels)) <= {0, 1, 2} and (labels == 2).any()
    union = _mask(files["mask.png"])
    assert np.array_equal(union, masks[0] | masks[1])
    # Switch back to object 1 and remove it; object 2 stays.
    client.predict(0, api_name="/select_object")
    _, _, _, objects, _ = client.predict(api_name="/remove_object")
    assert len(objects["choices"]) == 1
    doc, _ = _decode_coco(_files(client)["masks.json"])
    assert len(doc["annotations"]) == 1
    _, gallery, _, objects, status = client.predict(api_name="/clear")
    assert gallery == [] and "Cleared" in status


def test_segment_everything_counts_and_exports(client):
    client.predict(handle_file(STREET), api_name="/load_image")
    canvas, status, coco = client.predict(4, 0.0, 0.0, 0.7, 0, 0, api_name="/segment_everything")
    doc, masks = _decode_coco(coco)
    assert f"**{len(masks)} mask" in status and len(masks) >= 1
    assert all(m.shape == (800, 1200) for m in masks)
    assert doc["images"][0]["file_name"] == "street.jpg"
    img = np.asarray(Image.open(canvas))
    assert img.shape == (800, 1200, 3)
    # out-of-range settings are refused by the slider's own bounds, with a clear message
    with pytest.raises(Exception, match="greater than maximum value 64"):
        client.predict(500, 0.0, 0.0, 0.7, 0, 0, api_name="/segment_everything")
    canvas, status, coco = client.predict(4, 0.0, 0.0, 0.7, 0, 0, api_name="/segment_everything")
    assert "mask" in status  # the session still works


def test_bad_input_gives_messages_and_the_session_keeps_working(client, tmp_path):
    *_, status = client.predict(10, 10, True, api_name="/add_point")
    assert "Load an image first" in status
    *_, status = client.predict(api_name="/undo")
    assert "Load an image first" in status
    _, status = client.predict(api_name="/export")
    assert "Load an image first" in status
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(Exception, match="Could not read photo.png as an image"):
        client.predict(handle_file(str(bad)), api_name="/load_image")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(Exception, match="(?i)could not read|empty"):
        client.predict(handle_file(str(empty)), api_name="/load_image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(open(SHAPES, "rb").read()[:3000])
    *_, status = client.predict(handle_file(str(truncated)), api_name="/load_image")
    assert "Could not read" in status
    client.predict(handle_file(SHAPES), api_name="/load_image")
    *_, status = client.predict(1024, 10, True, api_name="/add_point")
    assert "outside the image" in status
    *_, status = client.predict(5, 5, 6, 300, api_name="/add_box")
    assert "too thin" in status
    _, gallery, _, _, status = client.predict(100, 100, True, api_name="/add_point")
    assert len(gallery) == 3 and "1 foreground" in status


@pytest.mark.parametrize("kind", ["gray16", "rgba", "cmyk", "gray"])
def test_unusual_image_modes_load(client, tmp_path, kind):
    rng = np.random.default_rng(1)
    if kind == "gray16":
        img = Image.fromarray((rng.integers(0, 65535, size=(90, 120))).astype(np.uint16))
        path = tmp_path / "g16.png"
    elif kind == "rgba":
        img = Image.fromarray(rng.integers(0, 255, size=(90, 120, 4), dtype=np.uint8), mode="RGBA")
        path = tmp_path / "rgba.png"
    elif kind == "cmyk":
        img = Image.fromarray(rng.integers(0, 255, size=(90, 120, 3), dtype=np.uint8)).convert("CMYK")
        path = tmp_path / "cmyk.jpg"
    else:
        img = Image.fromarray(rng.integers(0, 255, size=(90, 120), dtype=np.uint8), mode="L")
        path = tmp_path / "gray.png"
    img.save(path)
    canvas, *_, status = client.predict(handle_file(str(path)), api_name="/load_image")
    assert "Image loaded" in status and "120×90" in status
    assert np.asarray(Image.open(canvas)).shape == (90, 120, 3)
    *_, status = client.predict(60, 45, True, api_name="/add_point")
    assert "mask 1" in status or "mask 2" in status or "mask 3" in status


@pytest.mark.slow
def test_large_image_is_downscaled_for_display_only_and_huge_is_refused(client, tmp_path):
    big = np.zeros((2000, 3000, 3), np.uint8)
    big[500:1500, 800:2200] = (200, 40, 40)
    path = tmp_path / "big.png"
    Image.fromarray(big).save(path)
    canvas, *_, status = client.predict(handle_file(str(path)), api_name="/load_image")
    assert "3000×2000" in status and "shown at" in status
    assert np.asarray(Image.open(canvas)).shape == (853, 1280, 3)
    client.predict(1500, 1000, True, api_name="/add_point")
    files = _files(client)
    assert _mask(files["mask.png"]).shape == (2000, 3000)
    assert Image.open(files["cutout.png"]).size == (3000, 2000)
    huge = tmp_path / "huge.png"
    Image.new("L", (7000, 6000)).save(huge)
    *_, status = client.predict(handle_file(str(huge)), api_name="/load_image")
    assert "megapixels" in status


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_two_sessions_get_their_own_results(app):
    a, b = Client(app.url, verbose=False), Client(app.url, verbose=False)
    try:
        a.predict(handle_file(SHAPES), api_name="/load_image")
        b.predict(handle_file(STREET), api_name="/load_image")
        results = {}

        def run(name, c, x, y):
            results[name] = c.predict(x, y, True, api_name="/add_point")

        threads = [threading.Thread(target=run, args=("a", a, 230, 260)),
                   threading.Thread(target=run, args=("b", b, 450, 700))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert np.asarray(Image.open(results["a"][0])).shape == (768, 1024, 3)
        assert np.asarray(Image.open(results["b"][0])).shape == (800, 1200, 3)
        ma, mb = _mask(_files(a)["mask.png"]), _mask(_files(b)["mask.png"])
        assert ma.shape == (768, 1024) and mb.shape == (800, 1200)
        doc_b, _ = _decode_coco(_files(b)["masks.json"])
        assert doc_b["annotations"][0]["point_coords"] == [[450.0, 700.0]]
        assert doc_b["images"][0]["file_name"] == "street.jpg"
        # Session a's state is untouched by b's work.
        *_, status = a.predict(api_name="/undo")
        assert "Undid the last point" in status and "1024×768" in status
    finally:
        a.close()
        b.close()


def test_readme_client_example_runs(app):
    out = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "examples", "api_client.py"), app.url, SHAPES, "230", "260"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("candidate:") == 3
    assert "_mask.png" in out.stdout and "_cutout.png" in out.stdout and "_masks.json" in out.stdout
    assert "masks in" in out.stdout


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_closing_a_client_frees_its_session(tiny_checkpoint):
    """In-process app with a local --checkpoint: demo.unload drops the session's state."""
    import time

    from ui.page import AppConfig, build_demo

    demo = build_demo(AppConfig(model="sam2.1-hiera-tiny", checkpoint=tiny_checkpoint, device="cpu", video=False))
    url = launch_demo(demo)
    try:
        store = demo.sam2_image_controller.sessions
        c = Client(url, verbose=False)
        *_, status = c.predict(handle_file(SHAPES), api_name="/load_image")
        assert "Image loaded" in status and len(store) == 1
        _, gallery, *_ = c.predict(230, 260, True, api_name="/add_point")
        assert len(gallery) == 3
        assert demo.sam2_registry.source_of("facebook/sam2.1-hiera-tiny") == tiny_checkpoint
        c.close()
        deadline = time.monotonic() + 20
        while len(store) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(store) == 0
    finally:
        demo.close()
