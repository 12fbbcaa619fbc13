"""``python -m sam2.annotate`` / ``annotate()`` end to end on the local engine, with seeded random
SAM 2.1 tiny weights at a 256 px input (``++model.image_size=256``) so a run takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from sam2.annotate import InputError, OutputError, annotate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SMALL = ("++model.image_size=256",)
SIZES = [(48, 64), (48, 64), (40, 56), (48, 64), (40, 56), (48, 64)]


def make_images(folder, sizes=SIZES):
    """Noise with a bright square; half in a subfolder; the matching COCO box file beside the folder."""
    rs = np.random.RandomState(0)
    images, anns = [], []
    for i, (h, w) in enumerate(sizes):
        a = (rs.rand(h, w, 3) * 60).astype(np.uint8)
        a[10:30, 12 + i:32 + i] = 230
        name = f"im{i}.jpg" if i % 2 == 0 else f"sub/im{i}.png"
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        Image.fromarray(a).save(os.path.join(folder, name))
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        anns.append({"image_id": i + 1, "bbox": [10 + i, 8, 24, 24], "category_id": 1, "score": 0.9})
        anns.append({"image_id": i + 1, "bbox": [1, 1, 8, 6], "category_id": 2, "score": 0.6})
    boxes = os.path.join(os.path.dirname(folder), "boxes.json")
    with open(boxes, "w") as f:
        json.dump({"images": images, "annotations": anns,
                   "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "corner"}]}, f)
    return boxes


def run(inp, out, boxes, ckpt, **kw):
    kw.setdefault("threads", 1)
    return annotate(str(inp), str(out), boxes=boxes, checkpoint=ckpt, overrides=SMALL, device="cpu",
                    precision="exact", progress=False, **kw)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return str(root / "imgs"), make_images(str(root / "imgs"))


def test_boxes_to_coco_yolo_png_match_the_find_pipeline(dataset, tiny_checkpoint, tmp_path):
    from pycocotools import mask as mask_utils

    from sam2.assembly import build_image_model
    from sam2.find import Detection, find_objects
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    inp, boxes = dataset
    summary = run(inp, tmp_path / "out", boxes, tiny_checkpoint, png=True)
    assert (summary.images_done, summary.failed, summary.skipped) == (6, [], [])
    assert summary.objects == {"square": 6, "corner": 6}
    doc = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert doc["categories"] == [{"id": 1, "name": "square"}, {"id": 2, "name": "corner"}]
    assert [im["file_name"] for im in doc["images"]] == ["im0.jpg", "im2.jpg", "im4.jpg", "sub/im1.png",
                                                        "sub/im3.png", "sub/im5.png"]
    for ann in doc["annotations"]:
        rle = ann["segmentation"]
        assert ann["bbox"] == [int(v) for v in mask_utils.toBbox(rle)]
        assert ann["area"] == int(mask_utils.area(rle))
    # the same masks as the Find pipeline on the same model, image by image
    torch_model = build_image_model("sam2.1_hiera_t", tiny_checkpoint, device="cpu", hydra_overrides_extra=SMALL)
    predictor = SAM2ImagePredictor(torch_model)
    first = doc["images"][0]
    rgb = np.asarray(Image.open(os.path.join(inp, first["file_name"])).convert("RGB"))
    dets = [Detection((10, 8, 34, 32), "square", 0.9), Detection((1, 1, 9, 7), "corner", 0.6)]
    expected = find_objects(predictor, rgb, boxes=dets)
    got = [a for a in doc["annotations"] if a["image_id"] == first["id"]]
    assert [a["label"] for a in got] == [o.label for o in expected.objects]
    for a, o in zip(got, expected.objects):
        assert (mask_utils.decode(a["segmentation"]).astype(bool) == o.mask).all()
        assert a["predicted_iou"] == pytest.approx(o.predicted_iou, abs=1e-6)
    # YOLO-seg: one line per object (class = category position), PNG: pixel k = object k
    lines = (tmp_path / "out" / "labels" / "im0.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"][: len(lines)] and lines
    png = Image.open(tmp_path / "out" / "masks" / "im0.png")
    assert png.mode == "P" and png.size == (64, 48)
    labels = np.asarray(png)
    square, corner = (mask_utils.decode(a["segmentation"]).astype(bool) for a in got)
    assert ((labels == 2) == corner).all()  # the later object wins where masks overlap
    assert ((labels == 1) == (square & ~corner)).all()


def test_a_second_run_redoes_nothing_and_other_options_are_refused(dataset, tiny_checkpoint, tmp_path):
    inp, boxes = dataset
    out = tmp_path / "out"
    run(inp, out, boxes, tiny_checkpoint, threshold=0.7)
    before = (out / "annotations.json").read_bytes()
    again = run(inp, out, boxes, tiny_checkpoint, threshold=0.7)
    assert again.processed_this_run == 0 and again.images_done == 6
    assert (out / "annotations.json").read_bytes() == before
    assert again.objects == {"square": 6, "corner": 0}  # the 0.6 boxes are under the threshold
    with pytest.raises(ValueError, match="other options .*threshold"):
        run(inp, out, boxes, tiny_checkpoint, threshold=0.5)
    assert run(inp, out, boxes, tiny_checkpoint, threshold=0.5, overwrite=True).objects["corner"] == 6


def test_hostile_inputs_each_get_a_clear_line(tiny_checkpoint, tmp_path):
    inp = tmp_path / "in"
    boxes = make_images(str(inp), SIZES[:2])
    (inp / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (inp / "notes.png").write_text("hello")
    doc = json.loads(open(boxes).read())
    doc["images"].append({"id": 50, "file_name": "gone.jpg", "width": 64, "height": 48})
    doc["images"].append({"id": 51, "file_name": "broken.jpg", "width": 64, "height": 48})
    doc["images"].append({"id": 52, "file_name": "notes.png", "width": 64, "height": 48})
    with open(boxes, "w") as f:
        json.dump(doc, f)
    # a truncated video and an image the box file does not name
    from sam2.media.mp4 import write_mp4

    write_mp4(str(inp / "clip.mp4"), [np.zeros((32, 32, 3), np.uint8)] * 6, fps=6)
    data = (inp / "clip.mp4").read_bytes()
    (inp / "clip.mp4").write_bytes(data[: len(data) // 2])
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(inp / "unlisted.png")
    summary = run(inp, tmp_path / "out", boxes, tiny_checkpoint)
    assert summary.images_done == 2
    failed = {row["item"]: row["reason"] for row in summary.failed}
    assert set(failed) == {"broken.jpg", "notes.png", "clip.mp4"}
    assert "broken.jpg" in failed["broken.jpg"] and "cannot be decoded" in failed["broken.jpg"]
    assert "text file" in failed["notes.png"]
    assert "clip.mp4" in failed["clip.mp4"] or "video" in failed["clip.mp4"].lower()
    assert [row["item"] for row in summary.skipped] == ["unlisted.png"]
    assert any("gone.jpg" in note for note in summary.notes)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {r["item"] for r in saved["failed"]} == set(failed)


def test_empty_folder_and_unwritable_output_are_errors_before_any_work(tiny_checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    boxes = make_images(str(tmp_path / "in"), SIZES[:1])
    with pytest.raises(InputError, match="no images or videos"):
        run(tmp_path / "empty", tmp_path / "out", boxes, tiny_checkpoint)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        run(tmp_path / "in", tmp_path / "afile", boxes, tiny_checkpoint)
    cmd = [sys.executable, "-m", "sam2.annotate", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"),
           "--boxes", boxes, "--checkpoint", tiny_checkpoint]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("sam2.annotate: error: no images or videos in the folder")


def test_disk_full_midway_stops_with_a_clear_error_and_loses_nothing(dataset, tiny_checkpoint, tmp_path,
                                                                    monkeypatch):
    import errno

    from sam2.annotate import files

    inp, boxes = dataset
    real_replace = os.replace
    parts_written = []

    def replace(src, dst):
        if "/parts/" in dst.replace(os.sep, "/"):
            if len(parts_written) >= 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            parts_written.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(OutputError, match="the disk is full"):
        run(inp, tmp_path / "out", boxes, tiny_checkpoint)
    monkeypatch.setattr(files.os, "replace", real_replace)
    kept = {p: open(p).read() for p in parts_written}
    assert len(kept) == 3 and all(json.loads(t)["status"] == "done" for t in kept.values())
    leftovers = [n for _, _, names in os.walk(tmp_path / "out") for n in names if ".tmp-" in n]
    assert leftovers == []
    summary = run(inp, tmp_path / "out", boxes, tiny_checkpoint)
    assert summary.processed_this_run == 3 and summary.images_done == 6
    assert {p: open(p).read() for p in parts_written} == kept  # finished items were not redone
    run(inp, tmp_path / "clean", boxes, tiny_checkpoint)
    assert (tmp_path / "out" / "annotations.json").read_bytes() == \
        (tmp_path / "clean" / "annotations.json").read_bytes()


@pytest.mark.slow  # ~40 s: three CLI runs
def test_kill_9_midway_then_resume_equals_an_uninterrupted_run(dataset, tiny_checkpoint, tmp_path):
    inp, boxes = dataset
    cmd = [sys.executable, "-m", "sam2.annotate", inp, "--boxes", boxes, "--checkpoint", tiny_checkpoint,
           "--override", SMALL[0], "--device", "cpu", "--precision", "exact", "--threads", "1", "--quiet", "--png"]
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(out)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    def parts():  # finished items; a killed write leaves only a hidden temporary file
        return [n for n in os.listdir(out / "parts") if not n.startswith(".")] if (out / "parts").is_dir() else []

    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and len(parts()) < 2:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()  # SIGKILL
    proc.wait()
    finished = len(parts())
    assert 2 <= finished < 6 and not (out / "annotations.json").exists()
    resumed = subprocess.run(cmd + ["--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed: {finished} item(s)" in resumed.stdout
    assert not [n for n in os.listdir(out / "parts") if ".tmp-" in n]  # a killed write's leftovers are gone
    clean = subprocess.run(cmd + ["--out", str(tmp_path / "clean")], cwd=REPO, capture_output=True, text=True,
                           timeout=600)
    assert clean.returncode == 0, clean.stderr
    for name in ("annotations.json", "labels/im0.txt", "labels/sub/im5.txt", "masks/sub/im3.png"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A 5-frame clip of a moving square and one still image, with a points file for both."""
    from sam2.media.mp4 import write_mp4

    root = tmp_path_factory.mktemp("mixed")
    frames = (np.random.RandomState(1).rand(5, 64, 80, 3) * 60).astype(np.uint8)
    for i in range(5):
        frames[i, 20:40, 10 + 4 * i:30 + 4 * i] = 230
    os.makedirs(root / "in")
    write_mp4(str(root / "in" / "clip.mp4"), list(frames), fps=5)
    Image.fromarray(frames[0]).save(root / "in" / "still.png")
    points = {"clip.mp4": [{"points": [[20, 30]], "label": "square"},
                           {"points": [[70, 5]], "label": "corner", "frame": 2}],
              "still.png": [{"points": [[20, 30], [70, 5]], "labels": [1, 0], "label": "square"}]}
    (root / "points.json").write_text(json.dumps(points))
    return root


def test_points_on_images_and_videos_give_the_apps_video_exports(mixed, tiny_checkpoint, tmp_path):
    summary = annotate(str(mixed / "in"), str(tmp_path / "out"), points=str(mixed / "points.json"),
                       checkpoint=tiny_checkpoint, overrides=SMALL, device="cpu", progress=False, threads=1)
    assert (summary.images_done, summary.videos_done, summary.failed) == (1, 1, [])
    assert summary.objects == {"square": 2, "corner": 1}  # videos count tracked objects
    video = tmp_path / "out" / "videos" / "clip.mp4"
    doc = json.loads((video / "coco.json").read_text())
    assert [im["frame_index"] for im in doc["images"]] == [0, 1, 2, 3, 4]
    assert doc["categories"] == [{"id": 1, "name": "square"}, {"id": 2, "name": "corner"}]
    assert doc["info"]["objects"][1]["prompted_frames"] == [2]
    tracks = {(a["frame_index"], a["track_id"]) for a in doc["annotations"]}
    assert {(f, 1) for f in range(5)} <= tracks  # the first object on every frame
    davis = sorted(os.listdir(video / "davis"))
    assert davis == [f"{f:05d}.png" for f in range(5)]
    png = Image.open(video / "davis" / "00003.png")
    assert png.mode == "P" and png.size == (80, 64) and png.getpalette()[3:6] == [128, 0, 0]
    from pycocotools import mask as mask_utils

    on3 = [a for a in doc["annotations"] if a["frame_index"] == 3]
    labels = np.asarray(png)
    for a in on3:
        m = mask_utils.decode(a["segmentation"]).astype(bool)
        assert (labels[m & (labels != 2)] == a["track_id"]).all() if a["track_id"] == 1 else (labels[m] == 2).all()
    image_doc = json.loads((tmp_path / "out" / "annotations.json").read_text())
    (ann,) = image_doc["annotations"]
    assert ann["point_coords"] == [[20.0, 30.0], [70.0, 5.0]] and ann["point_labels"] == [1, 0]


def test_text_through_a_detector_and_everything(mixed, tiny_checkpoint, tmp_path):
    from sam2.annotate import EverythingOptions
    from sam2.find.testing import save_random_grounding_dino

    detector = save_random_grounding_dino(str(tmp_path / "gdino"), ["square", "corner"])
    common = dict(checkpoint=tiny_checkpoint, overrides=SMALL, device="cpu", progress=False, threads=1)
    found = annotate(str(mixed / "in" / "*.png"), str(tmp_path / "text"), text="square, corner",
                     detector=detector, threshold=0.0, max_objects=3, **common)
    assert found.images_done == 1 and sum(found.objects.values()) == 3
    assert set(found.objects) == {"square", "corner"}
    doc = json.loads((tmp_path / "text" / "annotations.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["square", "corner"]
    assert all(a["score"] > 0 and len(a["prompt_box_xyxy"]) == 4 for a in doc["annotations"])
    every = annotate(str(mixed / "in" / "still.png"), str(tmp_path / "all"),
                     everything=EverythingOptions(points_per_side=4, pred_iou_thresh=0.0,
                                                  stability_score_thresh=0.0), **common)
    assert every.images_done == 1 and every.objects["object"] > 0
    doc = json.loads((tmp_path / "all" / "annotations.json").read_text())
    assert all("stability_score" in a and len(a["point_coords"]) == 1 for a in doc["annotations"])


@pytest.mark.slow  # two runs: ~25 s
def test_same_size_images_are_encoded_together_with_the_same_results(dataset, tiny_checkpoint, tmp_path,
                                                                       monkeypatch):
    from pycocotools import mask as mask_utils

    from sam2.sam2_image_predictor import SAM2ImagePredictor

    batches = []
    real = SAM2ImagePredictor.set_image_batch

    def spy(self, images):
        batches.append([im.shape[:2] for im in images])
        return real(self, images)

    monkeypatch.setattr(SAM2ImagePredictor, "set_image_batch", spy)
    inp, boxes = dataset
    one = run(inp, tmp_path / "b1", boxes, tiny_checkpoint)
    assert batches == []
    four = run(inp, tmp_path / "b4", boxes, tiny_checkpoint, batch_size=4)
    assert four.objects == one.objects and four.images_done == 6
    # 4 images of 48x64 and 2 of 40x56: one batch of each size, never mixed
    assert sorted(len(b) for b in batches) == [2, 4] and all(len(set(b)) == 1 for b in batches)
    a = json.loads((tmp_path / "b1" / "annotations.json").read_text())["annotations"]
    b = json.loads((tmp_path / "b4" / "annotations.json").read_text())["annotations"]
    assert [x["label"] for x in a] == [x["label"] for x in b]
    for x, y in zip(a, b):  # batched convolutions may round differently: near, not always bit-equal
        mx, my = (mask_utils.decode(v["segmentation"]).astype(bool) for v in (x, y))
        assert (mx != my).mean() < 0.01
        assert x["predicted_iou"] == pytest.approx(y["predicted_iou"], abs=1e-3)


def test_everything_settings_out_of_range_are_refused_before_any_work(tmp_path, capsys):
    """``--everything`` knobs share the app's checked settings: a bad one is one line on stderr."""
    from sam2.annotate.__main__ import main

    (tmp_path / "in").mkdir()
    code = main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--everything", "--points-per-side", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "points per side must be between 1 and 128, got 0" in err, err
    assert not (tmp_path / "out").exists()
