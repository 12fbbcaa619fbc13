"""Unit tests of the app's model-free modules: overlay, sessions, prompt state, names, files."""

from __future__ import annotations

import json
import subprocess
import threading

import numpy as np
import pytest
from PIL import Image

from ui.common import overlay
from ui.canvas import raster
from ui.image.state import ImageSession, Prediction
from ui.common.errors import UserError
from ui.models.names import default_model_id, model_choices, model_ids, model_label, resolve_model_id
from ui.common.sessions import SessionStore


# ----------------------------------------------------------------------------- overlay
def _image(h=60, w=80):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_display_downscales_only_large_images_and_maps_clicks_back():
    small = raster.make_display(_image(60, 80))
    assert small.scale == 1.0 and small.pixels.shape == (60, 80, 3)
    assert small.to_original(10, 20) == (10.0, 20.0)
    big = raster.make_display(np.zeros((1000, 3000, 3), np.uint8), max_side=600)
    assert big.pixels.shape == (200, 600, 3)
    assert big.scale == pytest.approx(0.2)
    x, y = big.to_original(300, 100)
    assert abs(x - 1502) < 3 and abs(y - 502) < 3
    # Round trip within a display pixel, and clamped to the image.
    dx, dy = big.to_display(x, y)
    assert abs(dx - 300) < 1e-6 and abs(dy - 100) < 1e-6
    assert big.to_original(10_000, -50) == (2999.0, 0.0)


def test_make_display_rejects_non_rgb_uint8():
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        raster.make_display(np.zeros((10, 10), np.uint8))


def test_blend_tints_only_inside_mask_and_draws_outline():
    base = np.full((40, 50, 3), 100, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:30, 10:40] = True
    out = overlay.blend_masks(base, [(mask, (255, 0, 0))], alpha=0.5)
    assert (out[0, 0] == 100).all()  # outside untouched
    assert tuple(out[20, 25]) == (178, 50, 50)  # inside blended
    assert tuple(out[10, 25]) == (255, 0, 0)  # outline in full colour
    # Masks at original size are resized to the display size.
    small = overlay.blend_masks(np.full((20, 25, 3), 100, np.uint8), [(mask, (0, 255, 0))])
    assert small[10, 12, 1] > 100 and small[0, 0, 1] == 100


def test_draw_prompts_colours_points_and_box():
    disp = raster.make_display(np.full((200, 200, 3), 128, np.uint8))
    out = overlay.draw_prompts(disp.pixels, disp, points=[(50, 50, 1), (150, 150, 0)],
                               box=(20, 100, 80, 180), box_color=(255, 255, 0))
    assert tuple(out[50, 50]) == raster.FOREGROUND_RGB
    assert tuple(out[150, 150]) == raster.BACKGROUND_RGB
    assert tuple(out[140, 20]) == (255, 255, 0)  # left edge of the box
    assert tuple(out[5, 5]) == (128, 128, 128)


def test_colorize_everything_gives_each_mask_a_colour():
    base = np.zeros((30, 30, 3), np.uint8)
    a = np.zeros((30, 30), bool); a[:, :15] = True
    b = np.zeros((30, 30), bool); b[5:10, 20:25] = True
    out = overlay.colorize_everything(base, [a, b])
    assert out[15, 5].any() and out[7, 22].any() and not out[20, 20].any()
    assert not np.array_equal(out[15, 5], out[7, 22])


def test_palette_colours_are_distinct():
    assert len(set(raster.PALETTE)) == len(raster.PALETTE)
    assert raster.object_color(0) == raster.object_color(len(raster.PALETTE))
    assert raster.color_hex((255, 0, 16)) == "#ff0010"


# ----------------------------------------------------------------------------- sessions
def test_session_store_creates_drops_and_sweeps_idle_sessions():
    now = [0.0]
    dropped = []
    store = SessionStore(list, max_idle_s=10, on_drop=dropped.append, clock=lambda: now[0])
    a = store.get("a")
    a.state.append(1)
    assert store.get("a").state == [1]
    store.get("b")
    assert len(store) == 2
    now[0] = 5.0
    store.get("b")  # b used recently
    now[0] = 12.0
    assert store.sweep() == ["a"]
    assert "a" not in store and "b" in store and dropped == [[1]]
    assert store.drop("b") and not store.drop("b") and not store.drop(None)
    with pytest.raises(RuntimeError, match="session id"):
        store.get(None)


def test_session_store_does_not_sweep_a_busy_session():
    now = [0.0]
    store = SessionStore(dict, max_idle_s=1, clock=lambda: now[0])
    entry = store.get("busy")
    now[0] = 100.0
    started, release = threading.Event(), threading.Event()

    def hold():
        with entry.lock:
            started.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(5)
    assert store.sweep() == []
    release.set()
    t.join()
    assert store.sweep() == ["busy"]


def test_session_store_validates_idle_time():
    with pytest.raises(ValueError):
        SessionStore(dict, max_idle_s=0)


# ----------------------------------------------------------------------------- prompt state
def _session(h=100, w=200):
    s = ImageSession()
    img = np.zeros((h, w, 3), np.uint8)
    s.load(img, "x.png", raster.make_display(img))
    return s


def _prediction(c=3, h=100, w=200):
    masks = np.zeros((c, h, w), bool)
    for i in range(c):
        masks[i, : 10 * (i + 1)] = True
    return Prediction(masks, np.array([0.2, 0.9, 0.5][:c], np.float32), np.ones(c, np.float32),
                      np.full((c, 256, 256), float(c), np.float32))


def test_prompts_need_an_image_and_must_be_inside_it():
    s = ImageSession()
    with pytest.raises(UserError, match="Load an image first"):
        s.add_point(1, 1, 1)
    s = _session()
    with pytest.raises(UserError, match="outside the image"):
        s.add_point(250, 10, 1)
    with pytest.raises(UserError, match="outside"):
        s.add_box(-5, 0, 10, 10)
    with pytest.raises(UserError, match="label"):
        s.add_point(1, 1, 2)
    with pytest.raises(UserError, match="too thin"):
        s.add_box(10, 10, 11, 50)
    assert s.current.history == []


def test_points_box_undo_refine_and_objects():
    s = _session()
    s.add_point(10, 20, 1)
    s.add_point(30, 40, 0)
    p = s.add_box(50, 60, 20, 10)
    assert p.box == (20.0, 10.0, 50.0, 60.0) and len(p.points) == 2
    coords, labels = p.point_arrays()
    assert coords.tolist() == [[10, 20], [30, 40]] and labels.tolist() == [1, 0]
    s.set_prediction(_prediction())
    assert s.current.chosen == 1  # best predicted IoU
    s.choose(2)
    assert s.current.mask.sum() == 30 * 200
    with pytest.raises(UserError, match="does not exist"):
        s.choose(3)
    r = s.refine()
    assert r.is_refinement and r.points == p.points and r.box == p.box
    assert float(r.mask_input.mean()) == 3.0
    assert s.undo() == "refinement"
    assert s.undo() == "box"
    assert s.current.prompts.box is None
    assert s.undo() == "point" and len(s.current.prompts.points) == 1
    # A new object only when the current one has prompts; each gets its own colour.
    first = s.current
    s.new_object()
    assert s.active == 1 and s.current.color != first.color
    assert s.new_object() is s.current and len(s.objects) == 2
    s.select_object(first.obj_id)
    assert s.current is first and first.obj_id == 1
    s.remove_object()
    assert len(s.objects) == 1 and s.current.color_index == 1
    s.clear_all()
    assert len(s.objects) == 1 and not s.current.history


def test_undo_with_nothing_left_and_refine_without_mask_explain_themselves():
    s = _session()
    with pytest.raises(UserError, match="no prompts"):
        s.undo()
    with pytest.raises(UserError, match="Nothing to refine"):
        s.refine()
    with pytest.raises(UserError, match="Object 4 is gone"):
        s.select_object(4)


# ----------------------------------------------------------------------------- names
@pytest.mark.parametrize("name, expected", [
    ("facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-tiny"),
    ("sam2.1-hiera-small", "facebook/sam2.1-hiera-small"),
    ("sam2_hiera_l", "facebook/sam2-hiera-large"),
    ("sam2_hiera_base_plus.pt", "facebook/sam2-hiera-base-plus"),
    ("configs/sam2.1/sam2.1_hiera_b+.yaml", "facebook/sam2.1-hiera-base-plus"),
    ("large", "facebook/sam2.1-hiera-large"),
])
def test_model_names_resolve(name, expected):
    assert resolve_model_id(name) == expected


def test_model_names_list_all_nine_and_reject_unknown():
    assert len(model_ids()) == 9 and model_ids()[0].startswith("facebook/sam2.1")
    assert model_ids()[4] == "facebook/EdgeTAM" and model_label("facebook/EdgeTAM") == "EdgeTAM"
    assert resolve_model_id("edgetam") == resolve_model_id("EdgeTAM") == "facebook/EdgeTAM"
    assert ("SAM 2 · base-plus", "facebook/sam2-hiera-base-plus") in model_choices()
    assert model_label("facebook/sam2.1-hiera-large") == "SAM 2.1 · large"
    assert default_model_id("cpu").endswith("tiny") and default_model_id("cuda:0").endswith("large")
    with pytest.raises(ValueError, match="unknown model"):
        resolve_model_id("sam3-huge")


# ----------------------------------------------------------------------------- files
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


# ----------------------------------------------------------------------------- mp4
def test_mp4_is_h264_yuv420p_and_pads_odd_sizes(tmp_path):
    import imageio_ffmpeg

    from sam2.media.mp4 import write_mp4

    frames = [np.full((33, 47, 3), i * 20, np.uint8) for i in range(5)]
    path = write_mp4(str(tmp_path / "v.mp4"), frames, fps=5)
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
                          capture_output=True, text=True).stderr
    assert "h264" in info and "yuv420p" in info and "48x34" in info
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    assert meta["size"] == (48, 34)
    assert sum(1 for _ in reader) == 5
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(str(tmp_path / "e.mp4"), [], fps=5)
    with pytest.raises(ValueError, match="fps"):
        write_mp4(str(tmp_path / "f.mp4"), frames, fps=0)
    with pytest.raises(ValueError, match="expected"):
        write_mp4(str(tmp_path / "g.mp4"), [frames[0], np.zeros((10, 10, 3), np.uint8)], fps=5)


# ----------------------------------------------------------------------------- model registry
from ui.models.availability import HubProbe  # noqa: E402
def test_registry_loads_once_under_concurrency_and_evicts(monkeypatch):
    import time as _time

    from sam2 import build_sam
    from ui.models.registry import ModelRegistry

    calls = []

    def fake_build(model_id, device=None, **kw):
        calls.append(model_id)
        _time.sleep(0.2)
        return object()

    monkeypatch.setattr(build_sam, "build_sam2_hf", fake_build)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reg = ModelRegistry(device="cpu", max_loaded=1, hub=HubProbe(probe=lambda url, timeout: None))
    assert reg.default_model == "facebook/sam2.1-hiera-tiny"
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.get(None).model)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["facebook/sam2.1-hiera-tiny"] and len({id(m) for m in got}) == 1
    msgs = []
    reg.get("small", progress=lambda f, d: msgs.append(d))
    assert "SAM 2.1 · small" in msgs[0]
    assert reg.is_loaded("small") and not reg.is_loaded(None)  # max_loaded=1 evicted tiny


def test_registry_explains_missing_weights_offline(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    from sam2 import build_sam
    from ui.models.registry import ModelRegistry
    from ui.common.errors import ModelUnavailableError

    def offline(model_id, **kw):
        try:
            raise LocalEntryNotFoundError("outgoing traffic has been disabled")
        except LocalEntryNotFoundError as exc:
            raise build_sam.HubDownloadError("not cached") from exc

    monkeypatch.setattr(build_sam, "build_sam2_hf", offline)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reg = ModelRegistry(device="cpu", hub=HubProbe(probe=lambda url, timeout: None))
    with pytest.raises(ModelUnavailableError, match="download from the Hugging Face Hub failed.*--checkpoint"):
        reg.get("large")
    # The failed download taught the registry that the Hub is out of reach: other
    # uncached models are marked, and the failed one answers at once from memory.
    assert reg.unavailable_reason("small") == "unavailable offline"


def test_registry_rejects_bad_options(tmp_path):
    from ui.models.registry import ModelRegistry

    with pytest.raises(ValueError, match="no such file"):
        ModelRegistry(device="cpu", checkpoint=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="unknown model"):
        ModelRegistry(device="cpu", default_model="sam9")
    with pytest.raises(Exception):
        ModelRegistry(device="gpu")
