"""Video input: files, frame folders and arrays decode to the same frames; clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from sam2.media.video import (
    LRUCache,
    VideoFrames,
    VideoLoadError,
    list_frame_files,
    load_video,
    preprocess_frame,
)


def _frames(n=5, h=48, w=64, seed=0) -> np.ndarray:
    rs = np.random.RandomState(seed)
    base = (rs.rand(n, h, w, 3) * 255).astype(np.uint8)
    base[:, 10:20, 10:30] = [200, 30, 30]  # some structure, not only noise
    return base


def _write_lossless_video(path: str, frames: np.ndarray) -> None:
    import imageio_ffmpeg

    h, w = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        path, (w, h), codec="libx264rgb", pix_fmt_out="rgb24", output_params=["-qp", "0"],
        macro_block_size=1, ffmpeg_log_level="error",
    )
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f).tobytes())
    writer.close()


def _write_folder(folder, frames: np.ndarray, names=None) -> None:
    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(frames):
        name = names[i] if names else f"{i:05d}.png"
        Image.fromarray(f).save(os.path.join(folder, name))


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_video_file_and_png_folder_decode_to_identical_frames(tmp_path, ext):
    frames = _frames()
    video = str(tmp_path / f"clip{ext}")
    _write_lossless_video(video, frames)
    _write_folder(tmp_path / "pngs", frames)

    from_file = load_video(video)
    from_folder = load_video(str(tmp_path / "pngs"))
    from_array = load_video(frames)
    for v in (from_file, from_folder, from_array):
        assert (len(v), v.video_height, v.video_width) == (5, 48, 64)
    for i in range(5):
        assert np.array_equal(from_file.frame(i), frames[i])
        assert np.array_equal(from_folder.frame(i), frames[i])
        assert torch.equal(from_file[i], from_folder[i])
    # bytes of the file work too
    with open(video, "rb") as f:
        from_bytes = load_video(f.read())
    assert np.array_equal(from_bytes.frame(4), frames[4])


def test_frames_are_kept_compact_and_model_input_matches_reference_rule():
    frames = _frames(n=2)
    v = load_video(list(frames), image_size=32)
    assert v.frame(0).dtype == np.uint8 and v.frame(0).shape == (48, 64, 3)
    x = v[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    # the reference's JPEG-folder rule: PIL bicubic resize, /255, ImageNet mean/std
    ref = np.asarray(Image.fromarray(frames[1]).resize((32, 32), Image.BICUBIC)) / 255.0
    ref = torch.from_numpy(ref).permute(2, 0, 1).float()
    ref = (ref - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    assert torch.equal(x, ref)
    assert torch.equal(preprocess_frame(frames[1], 32), ref)
    assert v[1] is x  # cached


@pytest.mark.parametrize("height,width,size", [(720, 1280, 1024), (721, 1279, 1024), (33, 47, 64), (1200, 1800, 1023)])
def test_model_input_is_bit_identical_to_the_reference_rule(height, width, size):
    """``preprocess_frame`` looks levels up in a table and resizes the two halves on two
    threads; the result must still be the reference's arithmetic, bit for bit (the frame
    holds every uint8 level in every channel)."""
    rng = np.random.default_rng(height)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame.reshape(-1, 3)[:256] = np.arange(256, dtype=np.uint8)[:, None]
    ref = np.asarray(Image.fromarray(frame).resize((size, size), Image.BICUBIC)) / 255.0
    ref = torch.from_numpy(ref).permute(2, 0, 1).float()
    ref = (ref - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    assert torch.equal(preprocess_frame(frame, size), ref)


def test_folder_order_is_numeric_and_lazy_loading(tmp_path):
    frames = _frames(n=3)
    _write_folder(tmp_path, frames, names=["10.jpg", "2.png", "1.jpeg"])
    (tmp_path / "notes.txt").write_text("ignored")
    assert [os.path.basename(p) for p in list_frame_files(str(tmp_path))] == ["1.jpeg", "2.png", "10.jpg"]
    v = load_video(str(tmp_path), async_loading_frames=True)
    assert len(v) == 3
    assert np.array_equal(v.frame(1), frames[1])  # PNG is lossless


def test_bounded_cache():
    cache = LRUCache(2)
    for k in range(4):
        cache.put(k, k)
    assert len(cache) == 2 and cache.get(0) is None and cache.get(3) == 3
    v = VideoFrames(list(_frames(n=4)), image_size=16, cache_size=2)
    for i in range(4):
        v[i]
    assert len(v._cache) == 2


def test_clear_errors(tmp_path):
    with pytest.raises(VideoLoadError, match="no such"):
        load_video(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoLoadError, match="no JPEG or PNG"):
        load_video(str(tmp_path / "empty"))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoLoadError, match="corrupt.mp4"):
        load_video(str(corrupt))
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(VideoLoadError, match="empty"):
        load_video(str(tmp_path / "zero.mp4"))
    (tmp_path / "clip.gif2").write_bytes(b"x")
    with pytest.raises(VideoLoadError, match="unsupported"):
        load_video(str(tmp_path / "clip.gif2"))
    with pytest.raises(VideoLoadError):
        load_video([])
    with pytest.raises(VideoLoadError):
        load_video(np.zeros((0, 4, 4, 3), np.uint8))
    with pytest.raises(VideoLoadError, match="same size"):
        load_video([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoLoadError, match="00000.jpg"):
        load_video(str(bad))
    v = load_video(_frames(n=2))
    with pytest.raises(IndexError):
        v.frame(2)


def test_long_clips_are_kept_compressed_and_folders_as_file_bytes(tmp_path):
    """Compact storage: a clip over max_raw_bytes is kept as JPEG (close to the decoded
    frames), a frame folder as its files' bytes (identical pixels)."""
    from PIL import Image as _Image

    from sam2.media.mp4 import write_mp4
    from sam2.media.video import EncodedFrame, load_video

    yy, xx = np.mgrid[0:96, 0:128]
    frames = []
    for t in range(12):
        f = np.stack([(xx * 2 + t * 5) % 256, (yy * 2) % 256, np.full_like(xx, 100)], -1).astype(np.uint8)
        f[20:50, 10 + 4 * t: 40 + 4 * t] = (200, 30, 30)
        frames.append(f)
    path = write_mp4(str(tmp_path / "clip.mp4"), frames, fps=10)
    raw = load_video(path, max_raw_bytes=None)
    small = load_video(path, max_raw_bytes=5 * 128 * 96 * 3)
    assert len(raw) == len(small) == 12
    assert all(isinstance(small.stored(i), EncodedFrame) for i in range(12))
    assert small.stored_bytes < raw.stored_bytes / 2
    for i in range(12):
        diff = np.abs(raw.frame(i).astype(int) - small.frame(i).astype(int))
        assert diff.mean() < 2.0 and small.frame(i).shape == (96, 128, 3)

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        _Image.fromarray(f).save(folder / f"{i:05d}.jpg", quality=90)
    video = load_video(str(folder))
    for i in range(12):
        expected = np.array(_Image.open(folder / f"{i:05d}.jpg").convert("RGB"))
        np.testing.assert_array_equal(video.frame(i), expected)
    assert video.stored_bytes < sum(f.nbytes for f in frames)


def test_decode_video_applies_limits_in_one_pass(tmp_path):
    """The options the app uses: frame rate thinned by a whole stride, start kept, sides fitted,
    frames kept compressed past the memory budget; a damaged tail keeps the frames before."""
    from sam2.media.mp4 import write_mp4
    from sam2.media.video import EncodedFrame, decode_video

    frames = [np.full((120, 200, 3), 8 * i, np.uint8) for i in range(30)]  # brightness = frame number
    path = write_mp4(str(tmp_path / "ramp.mp4"), frames, fps=30)
    d = decode_video(path, max_fps=10, max_frames=6, max_short_side=60, max_long_side=100, max_raw_bytes=50_000)
    assert d.stride == 3 and d.fps == pytest.approx(10) and d.read_fps == pytest.approx(30)
    assert len(d.frames) == 6 and d.capped and (d.width, d.height) == (100, 60) and d.resized
    assert isinstance(d.frames[0], EncodedFrame)  # 6 x 18 KB is over the 50 KB budget
    means = [float(f.decode().mean()) for f in d.frames]
    assert means == pytest.approx([8 * 3 * i for i in range(6)], abs=4)  # frames 0, 3, 6, ... of the file
    whole = decode_video(path)  # no options: every frame as stored, as before
    assert len(whole.frames) == 30 and whole.stride == 1 and whole.read_fps is None and not whole.capped
    with pytest.raises(VideoLoadError, match="cannot decode"):
        decode_video(str(tmp_path / "missing.mp4"))


def test_decode_video_gives_each_frame_to_a_sink_in_order(tmp_path):
    """A caller that keeps frames its own way (the app: bounded RAM, the rest on disk) gets
    the very frames decode_video would keep, one at a time, and the sink back as ``frames``."""
    from sam2.media.video import decode_video

    frames = _frames(7)
    path = str(tmp_path / "clip.mkv")
    _write_lossless_video(path, frames)

    class Sink(list):
        def append(self, frame):  # the decoder may reuse its buffer: keep a copy
            super().append(frame.copy())

    sink = Sink()
    d = decode_video(path, max_frames=5, sink=sink, max_raw_bytes=1)
    assert d.frames is sink and len(sink) == 5 and d.capped and (d.width, d.height) == (64, 48)
    plain = decode_video(path, max_frames=5)
    assert all(np.array_equal(a, b) for a, b in zip(sink, plain.frames))
    assert all(np.array_equal(a, b) for a, b in zip(sink, frames[:5]))  # lossless: the frames written


def test_an_unknown_ffmpeg_error_reaches_the_page_without_the_server_path():
    from ui.video.media import _explain

    err = _explain(RuntimeError("ffmpeg said\nError opening input file /tmp/gradio/0a1b2c/clip.mkv."), "clip.mkv")
    assert "/tmp" not in str(err) and "gradio" not in str(err)
    assert "Error opening input file the file" in str(err) and "'clip.mkv'" in str(err)
