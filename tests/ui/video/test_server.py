"""End-to-end tests of the video tab: the real ``python app.py`` driven by ``gradio_client``.

The app runs in a child process with a Hugging Face cache holding random weights for
``facebook/sam2.1-hiera-tiny`` and ``HF_HUB_OFFLINE=1``. Random weights give arbitrary
blobs, so the checks are about structure: frame counts and sizes, masks present where
prompted, corrections that stick through tracking, files that decode. Clips are 3 frames
of 160x120 because tracking costs seconds per frame on a CPU.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.support.app import api_summary
from tests.support.hub_cache import AppProcess, hf_cache_env

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from tests.support import paths
from tests.support.media import SQUARES_HW, write_squares_clip

H, W = SQUARES_HW
ARTIFACTS = str(paths.ARTIFACTS)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf_home")))
    with AppProcess(["--device", "cpu"], env) as proc:
        yield proc


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    return write_squares_clip(str(tmp_path_factory.mktemp("video") / "squares.mp4"))


@pytest.fixture
def client(app):
    c = Client(app.url, verbose=False)
    yield c
    c.close()


def _export(client) -> dict:
    files, preview, status = client.predict("overlay", api_name="/video_export")
    assert "files ready" in status, status
    return {os.path.basename(f).split("_", 1)[-1]: f for f in files}


def _zip_masks(path: str) -> dict:
    """{(obj_id, frame): bool mask} from the per-object PNGs of the masks zip."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("objects/"):
                _, folder, file = name.split("/")
                arr = np.asarray(Image.open(io.BytesIO(zf.read(name))))
                assert arr.shape == (H, W) and set(np.unique(arr)) <= {0, 255}
                out[(int(folder.split("_")[0]), int(file[:5]))] = arr == 255
        davis = {int(n[6:11]): np.asarray(Image.open(io.BytesIO(zf.read(n)))) for n in zf.namelist()
                 if n.startswith("davis/")}
    return out, davis


def test_video_endpoints_are_published(app):
    info = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
    names = set(info["named_endpoints"])
    for name in ("/video_load", "/video_set_model", "/video_show_frame", "/video_add_point", "/video_add_box",
                 "/video_undo", "/video_clear_frame", "/video_new_object", "/video_select_object",
                 "/video_rename_object", "/video_remove_object", "/video_reset", "/video_track", "/video_cancel",
                 "/video_render", "/video_export", "/video_info"):
        assert name in names, sorted(names)
    params = [p["parameter_name"] for p in info["named_endpoints"]["/video_add_point"]["parameters"]]
    assert params == ["frame", "x", "y", "foreground", "obj_id"]


def test_the_whole_named_api_is_as_pinned(app):
    """Both tabs' named endpoints -- names, parameters with their types and defaults, returns --
    and the count of unnamed ones are exactly those in ``tests/data/named_api.json``: the API
    ``gradio_client`` users call does not change by accident (this app has both tabs and Find).
    A deliberate change rewrites that file from ``api_summary`` of the new app."""
    info = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
    with open(paths.TEST_DATA / "named_api.json", encoding="utf-8") as f:
        pinned = json.load(f)
    assert api_summary(info) == pinned


def test_bad_inputs_give_messages_not_errors(client, clip, tmp_path):
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(os.urandom(3000))
    *_, status, _ = client.predict(handle_file(str(garbage)), api_name="/video_load")
    assert "⚠️" in status and "corrupt" in status
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    *_, status, _ = client.predict(handle_file(str(empty)), api_name="/video_load")
    assert "empty" in status
    *_, status, _ = client.predict(0, 10, 10, True, 1, api_name="/video_add_point")
    assert "Load a video first" in status
    _, slider, *_ = client.predict(handle_file(clip), api_name="/video_load")
    assert slider["maximum"] == 2
    *_, status, _ = client.predict("both", 0, api_name="/video_track")
    assert "Nothing to track yet" in status
    *_, status, _ = client.predict(7, api_name="/video_show_frame")
    assert "Frame 7 is outside the clip" in status
    *_, status, _ = client.predict(5, 10, 10, True, 1, api_name="/video_add_point")
    assert "outside the clip" in status
    *_, status, _ = client.predict(0, 500, 10, True, 1, api_name="/video_add_point")
    assert "outside the frame" in status
    *_, status, _ = client.predict(api_name="/video_cancel")
    assert "No tracking is running" in status
    _, status = client.predict("overlay", api_name="/video_render")
    assert "Rendered" in status  # no masks yet: the plain clip


@pytest.mark.slow
def test_two_objects_track_both_ways_correct_add_and_download(client, clip):
    import imageio_ffmpeg

    canvas, slider, objects, legend, status, obj = client.predict(handle_file(clip), api_name="/video_load")
    assert slider["maximum"] == 2 and "3 frames of 160×120" in status
    plain = np.asarray(Image.open(canvas).convert("RGB")).astype(int)
    assert plain.shape == (H * 4, W * 4, 3)  # small clips are shown enlarged

    # two objects on different frames; each click returns that frame with its mask
    canvas, _, objects, _, status, obj = client.predict(0, 40, 50, True, 1, api_name="/video_add_point")
    assert obj == 1 and "1/3 frames with masks" in status
    shown = np.asarray(Image.open(canvas).convert("RGB")).astype(int)
    assert np.abs(shown - plain).mean() > 2  # the overlay and the marker are drawn
    *_, status, obj = client.predict(2, 110, 80, True, 2, api_name="/video_add_point")
    assert obj == 2 and "2/3 frames with masks" in status

    # track both ways from the middle frame
    *_, status, _ = client.predict("both", 1, api_name="/video_track")
    assert "Tracked 3 frames both from frame 1" in status, status
    info = client.predict(api_name="/video_info")
    assert info["tracked_frames"] == [0, 1, 2] and not info["tracking_stale"]
    tracked, _ = _zip_masks(_export(client)["masks.zip"])
    assert tracked[(1, 0)].any() and tracked[(2, 2)].any()

    # a correction on a tracked frame, and a third object added after tracking
    client.predict(2, 60, 50, False, 1, api_name="/video_add_point")
    corrected, _ = _zip_masks(_export(client)["masks.zip"])
    assert not np.array_equal(corrected[(1, 2)], tracked[(1, 2)])
    *_, status, obj = client.predict("third", api_name="/video_new_object")
    assert obj == 3 and "third" in status
    *_, status, obj = client.predict(1, 125, 40, True, 0, api_name="/video_add_point")
    assert obj == 3
    *_, status, _ = client.predict("forward", 1, api_name="/video_track")
    assert "Tracked 2 frames forward" in status, status

    files = _export(client)
    masks, davis = _zip_masks(files["masks.zip"])
    assert len(masks) == 3 * 3 and sorted(davis) == [0, 1, 2]
    assert masks[(1, 0)].any() and masks[(2, 2)].any() and masks[(3, 1)].any()  # where prompted
    assert masks[(3, 2)].any()  # the late object was tracked
    # the correction stuck: tracking through frame 2 kept the corrected mask (conditioning frame)
    assert np.array_equal(masks[(1, 2)], corrected[(1, 2)])
    for f, labels in davis.items():
        assert labels.shape == (H, W) and set(np.unique(labels)) <= {0, 1, 2, 3}
        assert ((labels == 3) == masks[(3, f)]).all()  # the last object wins overlaps
    reader = imageio_ffmpeg.read_frames(files["overlay.mp4"])
    meta = next(reader)
    assert meta["size"] == (W, H) and meta["codec"] == "h264" and "yuv420p" in meta["pix_fmt"]
    assert sum(1 for _ in reader) == 3
    with open(files["coco.json"]) as fh:
        coco = json.load(fh)
    assert len(coco["images"]) == 3 and {c["id"] for c in coco["categories"]} == {1, 2, 3}
    from pycocotools import mask as mask_utils

    for ann in coco["annotations"]:
        rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())
        assert np.array_equal(mask_utils.decode(rle).astype(bool), masks[(ann["track_id"], ann["frame_index"])])
    with open(files["boxes.json"]) as fh:
        boxes = json.load(fh)
    assert [f["frame"] for f in boxes["frames"]] == [0, 1, 2] and boxes["width"] == W
    ys, xs = np.nonzero(masks[(3, 1)])
    assert boxes["frames"][1]["boxes"]["3"] == [xs.min(), ys.min(), xs.max(), ys.max()]

    # effects render to playable MP4s of the same length
    path, status = client.predict("pixelate", api_name="/video_render")
    reader = imageio_ffmpeg.read_frames(path)
    assert next(reader)["size"] == (W, H) and sum(1 for _ in reader) == 3


@pytest.mark.slow
def test_cancel_mid_run_keeps_finished_frames(client, tmp_path):
    path = write_squares_clip(str(tmp_path / "eight.mp4"), n=8)
    client.predict(handle_file(path), api_name="/video_load")
    client.predict(0, 40, 50, True, 1, api_name="/video_add_point")
    job = client.submit("forward", 0, api_name="/video_track")
    deadline = time.time() + 240
    while time.time() < deadline:
        info = client.predict(api_name="/video_info")
        if len(info["tracked_frames"]) >= 2:
            break
        time.sleep(0.5)
    t0 = time.time()
    job.cancel()
    assert time.time() - t0 < 5
    *_, status, _ = client.predict(api_name="/video_cancel")  # waits for the frame in progress
    info = client.predict(api_name="/video_info")
    assert not info["tracking"] and 2 <= len(info["tracked_frames"]) < 8, info
    assert info["tracked_frames"] == list(range(len(info["tracked_frames"])))
    assert "cancelled" in info["last_run"] or "stopped" in info["last_run"]
    assert info["tracking_stale"]
    # the session goes on: a click works right away
    *_, status, _ = client.predict(3, 40, 50, True, 1, api_name="/video_add_point")
    assert "⚠️" not in status


def test_export_has_the_uploads_size_rate_and_sound(client, tmp_path):
    """A 720p 30 fps clip with a tone: the app works on 854x480 at 15 fps (CPU limits), the
    downloads come back at 1280x720, 30 fps, with the sound (see also
    test_video_export_fidelity.py for the mask resampling)."""
    import subprocess

    import imageio_ffmpeg

    from sam2.media.video import has_audio

    src = str(tmp_path / "hd.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                    "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", src], check=True, timeout=120)
    *_, status, _ = client.predict(handle_file(src), api_name="/video_load")
    assert "15 frames of 854×480 at 15 fps" in status, status
    *_, status, _ = client.predict(0, 300, 200, True, 1, api_name="/video_add_point")
    assert "1/15 frames with masks" in status, status
    t0 = time.perf_counter()
    files, preview, status = client.predict("overlay", api_name="/video_export")
    took = time.perf_counter() - t0
    assert "1280×720, 30 fps, 30 frames, with sound" in status, status
    by_name = {os.path.basename(f).split("_", 1)[-1]: f for f in files}
    reader = imageio_ffmpeg.read_frames(by_name["overlay.mp4"])
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8).reshape(720, 1280, 3) for f in reader]
    assert meta["size"] == (1280, 720) and meta["fps"] == 30 and len(frames) == 30
    assert has_audio(by_name["overlay.mp4"])
    with zipfile.ZipFile(by_name["masks.zip"]) as zf:
        first = np.asarray(Image.open(io.BytesIO(zf.read("objects/001_Object_1/00000.png"))))
        assert first.shape == (720, 1280) and sum(n.startswith("davis/") for n in zf.namelist()) == 30
    os.makedirs(ARTIFACTS, exist_ok=True)  # for a person to look at: frame 0 with its mask
    Image.fromarray(frames[0]).save(os.path.join(ARTIFACTS, "video_export_720p_frame0.png"))
    Image.fromarray(first).save(os.path.join(ARTIFACTS, "video_export_720p_mask0.png"))
    print(f"export of 30 frames at 1280x720 with sound: {took:.1f} s")
