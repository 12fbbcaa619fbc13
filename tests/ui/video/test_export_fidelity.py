"""Video downloads at the upload's own size, frame rate and sound (the app itself tracks a
480p / 15 fps copy on a CPU): the frame mapping, the mask upsampling and interpolation,
and the files of a 720p 30 fps clip with a sine tone, read back."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile

import numpy as np
import pytest
from PIL import Image

from sam2.media.video import has_audio
from ui.video.fullres import SourceRateMasks, signed_distance
from ui.video.media import VideoLimits, decode_clip, iter_source_frames
from ui.video.state import MaskStore

from tests.support.video_fakes import fake_controller as _controller, run_track as _run_track


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _make(path, *args) -> str:
    subprocess.run([_ffmpeg(), "-v", "error", "-y", *args, str(path)], check=True, timeout=120)
    return str(path)


def _read(path):
    """(meta, frames) of a video file, decoded with imageio-ffmpeg."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path)
    meta = next(gen)
    w, h = meta["size"]
    return meta, [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]


def _numbered_clip(path, n=40, fps=30, size=(96, 64)) -> str:
    """Frame i is a flat grey of 6 * i (so decoded frames can be told apart)."""
    from sam2.media.mp4 import write_mp4

    w, h = size
    return write_mp4(path, (np.full((h, w, 3), 6 * i, np.uint8) for i in range(n)), fps=fps, quality=0)


def _frame_number(frame) -> int:
    return int(round(frame.astype(float).mean() / 6))


# ----------------------------------------------------------------------------- frame mapping
def test_thinned_frames_are_every_stride_th_source_frame_and_the_source_reads_back(tmp_path):
    path = _numbered_clip(str(tmp_path / "n.mp4"), n=40, fps=30)
    lim = VideoLimits(max_seconds=1.0, max_frames=100, max_fps=10, max_short_side=32, max_long_side=48)
    clip = decode_clip(path, lim)
    span = clip.source
    assert clip.fps == 10 and span.stride == 3 and span.fps == 30 and (span.width, span.height) == (96, 64)
    assert [_frame_number(f) for f in clip.frames] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert clip.frames[0].shape == (32, 48, 3)
    source = list(iter_source_frames(span))  # trimmed to the processed span, at full size
    assert len(source) == span.max_frames == 30 and source[0].shape == (64, 96, 3)
    assert [_frame_number(f) for f in source] == list(range(30))


# ----------------------------------------------------------------------------- mask resampling
def _square(hw, x0, y0, side):
    m = np.zeros(hw, bool)
    m[y0:y0 + side, x0:x0 + side] = True
    return m


def test_same_size_and_rate_gives_the_stored_masks_unchanged():
    store = MaskStore()
    m = np.random.default_rng(0).random((30, 40)) > 0.5
    store.put(0, 1, m)
    r = SourceRateMasks(store, [1, 2], (30, 40), (30, 40), stride=1, num_processed=2)
    assert np.array_equal(r.mask(0, 1), m) and r.mask(0, 2) is None and r.mask(1, 1) is None
    assert list(r.frame(0)) == [1]


def test_upsampling_is_smooth_and_in_place():
    store = MaskStore()
    store.put(0, 1, _square((48, 64), 5, 10, 20))
    disc = np.hypot(*np.mgrid[-20:28, -30:34]) <= 12
    store.put(0, 2, disc)
    r = SourceRateMasks(store, [1, 2], (48, 64), (144, 192), stride=1, num_processed=1)
    sq = r.mask(0, 1)
    # the processed pixels 5..24 cover source pixels 15..74 at 3x: the same box, edges in
    # place; only the four corner pixels are rounded off (the distance is Euclidean)
    ys, xs = np.nonzero(sq)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (15, 74, 30, 89)
    assert (sq ^ _square((144, 192), 15, 30, 60)).sum() <= 4
    # a disc comes out as a disc, not as 3x3 blocks: its edge has many more distinct steps
    up = r.mask(0, 2)
    blocky = np.kron(disc, np.ones((3, 3), bool))
    yy, xx = np.mgrid[:144, :192]
    assert abs(int(up.sum()) - int(blocky.sum())) < 0.03 * blocky.sum()
    ideal = np.hypot((yy + 0.5) / 3 - 20.5, (xx + 0.5) / 3 - 30.5) <= 12.2
    assert (up ^ ideal).sum() < (blocky ^ ideal).sum()


def test_dropped_frames_blend_their_neighbours_and_missing_ones_take_the_nearest():
    store = MaskStore()
    store.put(0, 1, _square((48, 64), 4, 10, 20))
    store.put(1, 1, _square((48, 64), 14, 10, 20))  # moved 10 px right
    store.put(1, 2, _square((48, 64), 40, 30, 8))  # object 2 appears on processed frame 1
    r = SourceRateMasks(store, [1, 2], (48, 64), (48, 64), stride=2, num_processed=2)
    mid = r.mask(1, 1)  # half-way: moved 5 px
    xs = np.flatnonzero(mid.any(axis=0))
    ys = np.flatnonzero(mid.any(axis=1))
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (9, 28, 10, 29)
    assert mid[20, 9:29].all()  # the middle rows span the whole shifted width
    assert r.mask(1, 2) is None  # a tie between frames 0 and 1: the earlier one (absent there)
    assert r.nearest(1) == 0 and r.neighbours(1) == (0, 1, 0.5)
    assert np.array_equal(r.mask(2, 1), store.mask(1, 1)) and np.array_equal(r.mask(3, 1), store.mask(1, 1))
    r3 = SourceRateMasks(store, [1, 2], (48, 64), (48, 64), stride=3, num_processed=2)
    assert r3.mask(1, 2) is None and np.array_equal(r3.mask(2, 2), store.mask(1, 2))  # nearest in time


def test_signed_distance_is_half_a_pixel_either_side_of_the_edge():
    d = signed_distance(_square((10, 10), 2, 2, 5))
    assert d[4, 2] == 0.5 and d[4, 1] == -0.5 and d[4, 4] == 2.5
    assert np.isfinite(signed_distance(np.ones((5, 5), bool))).all()


# ----------------------------------------------------------------------------- the files
@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory) -> str:
    """1 s of 1280x720 at 30 fps (moving test pattern) with a 440 Hz tone."""
    path = tmp_path_factory.mktemp("hd") / "hd clip.mp4"
    return _make(path, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                 "sine=frequency=440:sample_rate=44100", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")


def _load_and_track(c, path):
    view = c.load("s", path)
    c.add_box("s", 0, 200, 100, 500, 300, 1)  # display pixels = clip pixels (854 wide: no zoom)
    c.add_point("s", 10, 600, 350, True, 2)
    _run_track(c, "s", "forward", 0)
    return view


def test_export_of_a_720p_30fps_clip_with_sound_has_its_size_rate_and_sound(hd_clip):
    c, _ = _controller(limits=VideoLimits())  # the CPU defaults: 480p, 15 fps
    view = _load_and_track(c, hd_clip)
    assert view.num_frames == 15 and "854x480" in view.warning and "30 to 15 fps" in view.warning
    paths, status = c.export("s", "overlay")
    assert "1280×720, 30 fps, 30 frames, with sound" in status, status
    assert "30 of 30 frames have masks, 2 objects" in status
    meta, frames = _read(paths[0])
    assert meta["size"] == (1280, 720) and meta["fps"] == 30 and len(frames) == 30
    assert has_audio(paths[0])
    # the frames are the upload's own, one for one (not processed frames shown twice)
    _, source = _read(hd_clip)
    far = (slice(600, 720), slice(1120, 1280))  # no object there; the pattern changes every frame
    for j in (21, 28):
        own = np.abs(frames[j][far].astype(int) - source[j][far]).mean()
        other = np.abs(frames[j][far].astype(int) - source[j - 1][far]).mean()
        assert own < 3 and own < other, (j, own, other)
    # masks: PNGs at the source size for every source frame; the box of object 1 scaled 1.5x
    with zipfile.ZipFile(paths[1]) as zf:
        names = zf.namelist()
        assert sum(n.startswith("davis/") for n in names) == 30
        m = np.asarray(Image.open(io.BytesIO(zf.read("objects/001_Object_1/00021.png"))))
        davis = Image.open(io.BytesIO(zf.read("davis/00021.png")))
        index = json.loads(zf.read("objects.json"))
    assert m.shape == (720, 1280) and davis.mode == "P" and davis.size == (1280, 720)
    ys, xs = np.nonzero(m)
    assert abs(xs.min() - 300) <= 2 and abs(xs.max() - 751) <= 2 and abs(ys.min() - 150) <= 2 and abs(ys.max() - 451) <= 2
    assert (index["width"], index["height"], index["fps"], index["num_frames"]) == (1280, 720, 30, 30)
    assert index["processed"]["width"] == 854 and index["processed"]["stride"] == 2
    assert index["objects"][1]["prompted_frames"] == [20]  # processed frame 10 = source frame 20
    coco = json.load(open(paths[2]))
    assert len(coco["images"]) == 30 and coco["images"][0]["width"] == 1280
    from pycocotools import mask as mask_utils

    ann = next(a for a in coco["annotations"] if a["frame_index"] == 21 and a["track_id"] == 1)
    assert np.array_equal(mask_utils.decode(ann["segmentation"]).astype(bool), m == 255)
    boxes = json.load(open(paths[3]))
    assert len(boxes["frames"]) == 30 and boxes["frames"][20]["boxes"]["2"]


def test_a_clip_without_sound_and_an_upload_gone_from_disk(tmp_path, hd_clip):
    silent = _make(tmp_path / "silent.mp4", "-i", hd_clip, "-an", "-c:v", "copy")
    upload = str(tmp_path / "upload.mp4")
    shutil.copyfile(silent, upload)
    c, _ = _controller(limits=VideoLimits())
    _load_and_track(c, upload)
    os.remove(upload)  # Gradio's temporary copy may be deleted: the session kept its own
    paths, status = c.export("s", "pixelate")
    assert "1280×720, 30 fps, 30 frames, no sound" in status, status
    meta, frames = _read(paths[0])
    assert meta["size"] == (1280, 720) and len(frames) == 30 and not has_audio(paths[0])
    # the kept copy is gone too: the files fall back to the processed frames, and say so
    c.sessions.get("s").state.drop_source()
    paths, status = c.export("s", "overlay")
    assert "854×480, 15 fps, 15 frames" in status and "could not be read again" in status, status
    assert _read(paths[0])[0]["size"] == (854, 480)
    c.drop("s")


def test_cropped_coco_rle_equals_the_full_scan():
    from sam2.utils.amg import mask_to_coco_rle
    from ui.video.exports import coco_rle
    from ui.common.packed_mask import mask_area_box

    rng = np.random.default_rng(1)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        m = np.zeros((h, w), bool)
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        m[y0:y1 + 1, x0:x1 + 1] = rng.random((y1 - y0 + 1, x1 - x0 + 1)) > 0.3
        if m.any():
            assert coco_rle(m, mask_area_box(m)[1]) == mask_to_coco_rle(m)


def test_mux_keeps_every_frame_when_the_sound_is_shorter(tmp_path):
    from sam2.media.mp4 import mux_audio

    video = _numbered_clip(str(tmp_path / "v.mp4"), n=30, fps=30)
    short_tone = _make(tmp_path / "tone.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5")
    out = str(tmp_path / "out.mp4")
    assert mux_audio(video, short_tone, out, seconds=1.0)
    meta, frames = _read(out)
    assert len(frames) == 30 and has_audio(out)
    assert [_frame_number(f) for f in frames[:3]] == [0, 1, 2]  # the picture is copied as it was
    assert not mux_audio(video, video, str(tmp_path / "none.mp4"))  # no sound: nothing written
    assert not os.path.exists(tmp_path / "none.mp4")


def test_one_export_per_session_at_a_time(tmp_path):
    from ui.common.errors import UserError

    path = _numbered_clip(str(tmp_path / "n.mp4"), n=6, fps=6)
    c, _ = _controller()
    c.load("s", path)
    c.add_point("s", 0, 40, 30, True, 1)
    slot = c.sessions.get("s").state
    with slot.exporting:  # as if another export of this session were running
        with pytest.raises(UserError, match="already running"):
            c.export("s")
    paths, status = c.export("s")  # and the lock is free again afterwards
    assert "files ready" in status and c.show("s", 2).frame == 2


@pytest.mark.parametrize("effect", ["overlay", "highlight", "cutout", "blur", "pixelate", "erase"])
def test_every_effect_is_drawn_on_the_full_size_frames(tmp_path, effect):
    path = _make(tmp_path / "small.mp4", "-f", "lavfi", "-i", "testsrc2=size=192x128:rate=20", "-t", "0.5",
                 "-pix_fmt", "yuv420p")
    lim = VideoLimits(max_seconds=5, max_frames=50, max_fps=10, max_short_side=64, max_long_side=96)
    c, _ = _controller(limits=lim)
    view = c.load("s", path)
    assert view.num_frames == 5
    c.add_box("s", 0, 40, 0, 60, 40, 1)  # clip pixels (96x64)
    _run_track(c, "s", "forward", 0)
    paths, status = c.export("s", effect)
    assert "192×128, 20 fps, 10 frames" in status, status
    meta, frames = _read(paths[0])
    assert meta["size"] == (192, 128) and len(frames) == 10
    _, source = _read(path)
    with zipfile.ZipFile(paths[1]) as zf:
        mask = np.asarray(Image.open(io.BytesIO(zf.read("objects/001_Object_1/00003.png")))) > 0
        colour = tuple(json.loads(zf.read("objects.json"))["objects"][0]["color"])
    assert mask.shape == (128, 192) and mask[5:75, 85:115].all() and not mask[90:].any()
    from ui.video.render import Layer, render_frame

    expected = render_frame(source[3], [Layer(mask, colour)], effect).astype(int)
    got, plain = frames[3].astype(int), source[3].astype(int)
    # where the effect changes the picture, the exported frame shows the effect drawn on the
    # full-size source frame (up to H.264 noise), not the plain frame
    changed = np.abs(expected - plain).sum(axis=-1) > 60
    assert changed.sum() > 200, effect
    to_expected = np.abs(got - expected)[changed].mean()
    to_plain = np.abs(got - plain)[changed].mean()
    assert to_expected < 0.5 * to_plain, (effect, to_expected, to_plain)
