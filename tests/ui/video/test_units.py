"""Video tab building blocks without a model: reading uploads within limits, compact mask
storage, session bookkeeping, the preview effects and the download files."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile

import numpy as np
import pytest
from PIL import Image

from sam2.media.palette import davis_palette
from ui.video.exports import ClipExport, ObjectInfo, boxes_document, coco_document, write_masks_zip
from ui.video.media import CPU_TRACK_SECONDS_PER_FRAME, VideoLimits, decode_clip, fit_size
from ui.video.render import EFFECTS, Layer, check_effect, render_frame
from ui.video.state import FramePrompts, MaskStore, PackedMask, VideoSession
from ui.common.errors import UserError


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _make(path, *args) -> str:
    """Write a test file with the ffmpeg binary that imageio-ffmpeg ships."""
    subprocess.run([_ffmpeg(), "-v", "error", "-y", *args, str(path)], check=True, timeout=60)
    return str(path)


def _testsrc(path, size="320x240", rate=10, seconds=1.0, extra=()) -> str:
    return _make(path, "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds),
                 "-pix_fmt", "yuv420p", *extra)


# ----------------------------------------------------------------------------- reading uploads
LIMITS = VideoLimits(max_seconds=2.0, max_frames=30, max_fps=10.0, max_short_side=120, max_long_side=214)


def test_limits_defaults_and_environment_overrides():
    cpu, cuda = VideoLimits.for_device("cpu", env={}), VideoLimits.for_device("cuda", env={})
    # minutes of video on a CPU, bounded by the time tracking them takes (~15 min for one
    # object with the default tracker), much more on CUDA
    assert cpu.max_seconds >= 120 and cpu.max_short_side <= 480 and cuda.max_short_side >= 720
    assert 10 * 60 <= cpu.max_frames * CPU_TRACK_SECONDS_PER_FRAME <= 20 * 60
    assert cuda.max_seconds > cpu.max_seconds and cuda.max_frames >= 4 * cpu.max_frames
    assert cpu.describe().startswith("up to 5 min and 1,800 frames, at most 15 fps and 480p")
    env = {"SAM2_VIDEO_MAX_SECONDS": "4", "SAM2_VIDEO_MAX_FPS": "6", "SAM2_VIDEO_MAX_SIDE": "360",
           "SAM2_VIDEO_MAX_FRAMES": "20"}
    lim = VideoLimits.for_device("cpu", env=env)
    assert (lim.max_seconds, lim.max_fps, lim.max_short_side, lim.max_frames) == (4.0, 6.0, 360, 20)
    assert "4 s" in lim.describe() and "360p" in lim.describe()
    with pytest.raises(ValueError, match="SAM2_VIDEO_MAX_FPS"):
        VideoLimits.for_device("cpu", env={"SAM2_VIDEO_MAX_FPS": "fast"})
    with pytest.raises(ValueError):
        VideoLimits(max_fps=0)


def test_fit_size_keeps_small_and_shrinks_large_to_even_sides():
    assert fit_size(161, 101, LIMITS) == (161, 101)
    assert fit_size(1920, 1080, LIMITS) == (214, 120)
    w, h = fit_size(1080, 1920, LIMITS)  # portrait
    assert (w, h) == (120, 214)


def test_clip_within_limits_is_read_as_is(tmp_path):
    clip = decode_clip(_testsrc(tmp_path / "ok.mp4", "160x120", 10, 1.0), LIMITS)
    assert (clip.num_frames, clip.width, clip.height, clip.fps) == (10, 160, 120, 10.0)
    assert clip.notes == [] and clip.frames[0].shape == (120, 160, 3) and clip.frames[0].dtype == np.uint8


@pytest.mark.parametrize("ext,codec", [(".webm", ["-c:v", "libvpx-vp9"]), (".mkv", []), (".mov", [])])
def test_other_containers(tmp_path, ext, codec):
    path = _make(tmp_path / f"clip{ext}", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5", "-t", "1", *codec)
    clip = decode_clip(path, LIMITS)
    assert (clip.num_frames, clip.width, clip.height) == (5, 96, 64)


def test_long_fast_large_clip_is_trimmed_thinned_and_downscaled_with_notes(tmp_path):
    path = _testsrc(tmp_path / "big.mp4", "640x360", 30, 3.0)
    clip = decode_clip(path, LIMITS)
    assert clip.fps == 10.0 and (clip.width, clip.height) == (214, 120)
    assert clip.num_frames == 20  # 2 s at 10 fps
    text = " ".join(clip.notes)
    assert "trimmed" in text and "30 to 10 fps" in text and "640x360 to 214x120" in text
    # the trim note says what was kept, of what, the bound, and what to do about the rest
    assert clip.notes[0] == ("trimmed to the first 2 s (20 frames) of 3 s: this server takes clips of at most "
                             "2 s and 30 frames; upload the rest as another clip to track it"), clip.notes[0]
    assert clip.source_size == (640, 360) and clip.source_fps == 30.0


def test_frame_cap_applies_before_duration(tmp_path):
    lim = VideoLimits(max_seconds=10, max_frames=6, max_fps=10, max_short_side=480, max_long_side=854)
    clip = decode_clip(_testsrc(tmp_path / "a.mp4", "64x48", 10, 2.0), lim)
    assert clip.num_frames == 6 and "trimmed" in clip.notes[0]


def test_odd_size_and_variable_frame_rate(tmp_path):
    odd = decode_clip(_make(tmp_path / "odd.mkv", "-f", "lavfi", "-i", "testsrc=size=161x101:rate=5", "-t", "1",
                            "-pix_fmt", "yuv444p"), LIMITS)
    assert (odd.width, odd.height, odd.num_frames) == (161, 101, 5) and not odd.notes
    vfr = _make(tmp_path / "vfr.mp4", "-t", "1.5", "-f", "lavfi", "-i", "testsrc=size=128x96:rate=10",
                "-vf", "setpts='if(lt(N,5),N/10/TB,N*3/10/TB)'", "-fps_mode", "vfr", "-pix_fmt", "yuv420p")
    clip = decode_clip(vfr, LIMITS)  # 15 frames shown over 3.9 s: read at a constant rate
    assert 0 < clip.fps <= LIMITS.max_fps and clip.frames[0].shape == (96, 128, 3)
    # trimmed to 2 s, and the frames really are 1/fps apart: 2 s worth of them
    assert abs(clip.num_frames - 2.0 * clip.fps) <= 1 and clip.num_frames >= 7


@pytest.mark.parametrize("kind,expected", [
    ("empty", "empty"), ("garbage", "corrupt"), ("audio", "no video track"), ("truncated", "corrupt"),
    ("missing", "not received"),
])
def test_unreadable_uploads_give_reasons(tmp_path, kind, expected):
    if kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "garbage":
        path = tmp_path / "garbage.mov"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif kind == "audio":
        path = _make(tmp_path / "sound.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=1")
    elif kind == "truncated":
        full = _testsrc(tmp_path / "full.mp4", "320x240", 10, 2.0)
        path = tmp_path / "cut.mp4"
        path.write_bytes(open(full, "rb").read()[:3000])
    else:
        path = tmp_path / "nothing.mp4"
    with pytest.raises(UserError, match=expected):
        decode_clip(str(path), LIMITS)


# ----------------------------------------------------------------------------- state
def test_packed_mask_round_trip_is_compact():
    m = np.zeros((240, 320), bool)
    m[50:120, 30:90] = True
    p = PackedMask.pack(m)
    assert np.array_equal(p.unpack(), m) and p.area == int(m.sum()) and p.box == (30, 50, 89, 119)
    assert p.nbytes < m.nbytes / 50
    assert PackedMask.pack(np.zeros((5, 7), bool)).box is None
    store = MaskStore()
    store.put(3, 1, m)
    store.put(1, 2, m)
    assert store.frames() == [1, 3] and store.mask(2, 1) is None and np.array_equal(store.mask(3, 1), m)
    store.drop_object(1)
    assert store.frames() == [1]


def test_session_objects_prompts_and_frame_checks():
    s = VideoSession()
    with pytest.raises(UserError, match="Load a video"):
        s.new_object()
    s.load(12, 120, 160)
    with pytest.raises(UserError, match="outside the clip"):
        s.check_frame(12)
    with pytest.raises(UserError, match="frame must be a whole number"):
        s.check_frame(1.5)
    a = s.new_object("  red   ball ")
    b = s.object_for_prompt(7)  # a new id creates that object
    assert (a.obj_id, a.name, b.obj_id, s.active_id) == (1, "red ball", 7, 7)
    assert s.new_object().obj_id == 2 and a.color != b.color
    with pytest.raises(UserError, match="already exists"):
        s.new_object(obj_id=7)
    with pytest.raises(UserError, match="1 to 255"):
        s.object_for_prompt(300)
    with pytest.raises(UserError, match="outside the frame"):
        s.check_inside(160, 10)
    with pytest.raises(UserError, match="too thin"):
        s.box_from(10, 10, 11, 50)
    p = FramePrompts().with_point(5, 6, 1).with_box((1, 2, 30, 40)).with_point(7, 8, 0)
    assert p.point_arrays()[1].tolist() == [1, 0] and p.box_array().tolist() == [1, 2, 30, 40]
    assert p.without_last().points == ((5.0, 6.0, 1),) and FramePrompts((), (1, 2, 3, 4)).without_last().is_empty
    # Undo takes the newest prompt: a box drawn after the clicks goes first, the clicks stay.
    q = FramePrompts().with_point(5, 6, 1).with_point(7, 8, 0).with_box((1, 2, 30, 40))
    assert q.without_last() == FramePrompts(q.points, None)
    assert q.without_last().without_last() == FramePrompts(((5.0, 6.0, 1),), None)
    v = s.prompts_version
    s.set_prompts(a, 4, p)
    assert a.prompted_frames == [4] and s.prompts_version == v + 1 and s.all_prompted_frames() == [4]
    s.masks.put(4, a.obj_id, np.ones((120, 160), bool))
    s.remove(a.obj_id)
    assert s.find(1) is None and s.masks.frames() == []


# ----------------------------------------------------------------------------- effects
def _scene():
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :, 0] = np.linspace(0, 255, 80, dtype=np.uint8)[None, :]
    frame[:, :, 1] = 120
    frame[:, :, 2] = np.linspace(255, 0, 60, dtype=np.uint8)[:, None]
    mask = np.zeros((60, 80), bool)
    mask[15:45, 20:50] = True
    return frame, mask


def test_every_effect_changes_the_object_or_the_background_as_named():
    frame, mask = _scene()
    inner = np.zeros_like(mask)
    inner[20:40, 25:45] = True  # away from outlines
    outer = np.zeros_like(mask)
    outer[:, 62:] = True  # far background
    layer = [Layer(mask, (255, 0, 0))]
    out = {e: render_frame(frame, layer, e).astype(int) for e in EFFECTS}
    f = frame.astype(int)
    assert set(EFFECTS) == {"overlay", "highlight", "cutout", "blur", "pixelate", "erase"}
    for e, img in out.items():
        assert img.shape == frame.shape, e
    # overlay: tinted towards red inside, untouched far outside, outline drawn in the colour
    assert (out["overlay"][inner][:, 0] >= f[inner][:, 0]).all() and np.array_equal(out["overlay"][outer], f[outer])
    assert (out["overlay"][15, 20:50] == [255, 0, 0]).all(axis=1).any()
    # highlight: object untouched, background darker
    assert np.array_equal(out["highlight"][inner], f[inner]) and out["highlight"][outer].mean() < f[outer].mean() - 40
    # cutout: object untouched, background white
    assert np.array_equal(out["cutout"][mask], f[mask]) and (out["cutout"][~mask] == 255).all()
    # blur: object sharp, background smoothed (the gradient changes little, so compare variance of diffs)
    assert np.array_equal(out["blur"][inner], f[inner])
    # pixelate: object made of flat blocks, background untouched
    assert np.array_equal(out["pixelate"][outer], f[outer]) and not np.array_equal(out["pixelate"][inner], f[inner])
    # erase: the object's area is refilled from its surroundings, the far background kept
    assert np.array_equal(out["erase"][outer], f[outer]) and not np.array_equal(out["erase"][inner], f[inner])
    # no masks: the frame as is (cutout: all white)
    assert np.array_equal(render_frame(frame, [], "overlay"), frame)
    assert check_effect("Pixelate objects") == "pixelate" and check_effect(None) == "overlay"
    with pytest.raises(ValueError, match="unknown effect"):
        check_effect("sparkles")
    with pytest.raises(ValueError, match="does not match"):
        render_frame(frame, [Layer(np.zeros((5, 5), bool), (1, 2, 3))])


# ----------------------------------------------------------------------------- downloads
def _clip_export():
    store = MaskStore()
    h, w = 24, 32
    m1 = np.zeros((h, w), bool)
    m1[2:10, 3:12] = True
    m2 = np.zeros((h, w), bool)
    m2[8:20, 10:30] = True  # overlaps m1
    store.put(0, 1, m1)
    store.put(0, 4, m2)
    store.put(2, 4, m2)
    store.put(2, 1, np.zeros((h, w), bool))
    objs = [ObjectInfo(1, "ball", (30, 144, 255), (0,)), ObjectInfo(4, "box/thing", (255, 140, 0), (2,))]
    return ClipExport("my clip.mp4", 3, h, w, 8.0, objs, store, source_size=(64, 48), source_fps=24.0), m1, m2


def test_masks_zip_has_per_object_pngs_davis_labels_and_an_index(tmp_path):
    clip, m1, m2 = _clip_export()
    path = write_masks_zip(clip, str(tmp_path / "m.zip"))
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        assert len([n for n in names if n.startswith("objects/")]) == 3 * 2
        assert len([n for n in names if n.startswith("davis/")]) == 3
        obj1 = np.asarray(Image.open(io.BytesIO(zf.read("objects/001_ball/00000.png"))))
        assert obj1.dtype == np.uint8 and np.array_equal(obj1 == 255, m1) and set(np.unique(obj1)) <= {0, 255}
        assert not np.asarray(Image.open(io.BytesIO(zf.read("objects/004_box_thing/00001.png")))).any()
        davis = Image.open(io.BytesIO(zf.read("davis/00000.png")))
        assert davis.mode == "P" and davis.getpalette()[:12] == davis_palette()[:12]
        labels = np.asarray(davis)
        assert (labels[m2] == 4).all() and (labels[m1 & ~m2] == 1).all() and (labels[~(m1 | m2)] == 0).all()
        index = json.loads(zf.read("objects.json"))
    assert index["objects"][1] == {"id": 4, "name": "box/thing", "color": [255, 140, 0], "prompted_frames": [2]}
    assert index["tracked_frames"] == [0, 2] and index["source_width"] == 64
    assert davis_palette()[3:6] == [128, 0, 0]  # DAVIS / VOC colour of id 1


def test_coco_and_boxes_documents_decode_to_the_masks():
    from pycocotools import mask as mask_utils

    clip, m1, m2 = _clip_export()
    doc = coco_document(clip)
    assert len(doc["images"]) == 3 and [c["id"] for c in doc["categories"]] == [1, 4]
    anns = doc["annotations"]
    assert [(a["frame_index"], a["track_id"]) for a in anns] == [(0, 1), (0, 4), (2, 4)]  # empty masks skipped
    for a, m in zip(anns, [m1, m2, m2]):
        rle = dict(a["segmentation"], counts=a["segmentation"]["counts"].encode())
        assert np.array_equal(mask_utils.decode(rle).astype(bool), m) and a["area"] == int(m.sum())
        x, y, bw, bh = a["bbox"]
        ys, xs = np.nonzero(m)
        assert (x, y, x + bw - 1, y + bh - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
    assert anns[0]["prompted"] and not anns[1]["prompted"]
    boxes = boxes_document(clip)
    assert [f["tracked"] for f in boxes["frames"]] == [True, False, True]
    assert boxes["frames"][0]["boxes"] == {"1": [3, 2, 11, 9], "4": [10, 8, 29, 19]}
    assert boxes["frames"][2]["boxes"] == {"4": [10, 8, 29, 19]}
    json.dumps(doc), json.dumps(boxes)  # serialisable


def test_coco_categories_group_objects_found_by_label():
    from dataclasses import replace

    clip, m1, m2 = _clip_export()
    found = replace(clip, objects=[replace(clip.objects[0], name="car 1", label="car"),
                                   ObjectInfo(4, "car 2", (255, 140, 0), (2,), "car")])
    doc = coco_document(found)
    assert doc["categories"] == [{"id": 1, "name": "car"}]
    assert {a["category_id"] for a in doc["annotations"]} == {1}
    assert {a["track_id"] for a in doc["annotations"]} == {1, 4}  # still one track per object
    mixed = replace(clip, objects=[clip.objects[0], replace(clip.objects[1], label="dog")])
    doc = coco_document(mixed)
    assert doc["categories"] == [{"id": 1, "name": "ball"}, {"id": 2, "name": "dog"}]
    assert sorted({(a["track_id"], a["category_id"]) for a in doc["annotations"]}) == [(1, 1), (4, 2)]
