"""A video file is decoded as frames are asked for, never the whole clip up front, and each
frame is kept in the form decoding the whole clip would give (raw, or JPEG past
``max_raw_bytes``), compressed frames on disk past ``frames_ram_bytes``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sam2.media.video import EncodedFrame, VideoLoadError, count_video_frames, decode_video_file, load_video

N, H, W = 80, 48, 64


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    from sam2.media.mp4 import write_mp4

    yy, xx = np.mgrid[0:H, 0:W]
    frames = []
    for t in range(N):
        f = np.stack([(xx * 3 + t * 7) % 256, (yy * 4) % 256, np.full_like(xx, 90)], -1).astype(np.uint8)
        f[10:30, t % 40: t % 40 + 20] = (220, 40, 40)
        frames.append(f)
    return write_mp4(str(tmp_path_factory.mktemp("clip") / "clip.mp4"), frames, fps=20)


def test_frames_are_decoded_as_asked_for_and_match_a_full_decode(clip):
    assert count_video_frames(clip) == N
    full, fps = decode_video_file(clip)
    video = load_video(clip)
    stream = video._stream
    assert len(video) == N and video.fps == fps
    assert stream.decoded <= 1 + stream.read_ahead  # not the whole clip
    assert np.array_equal(video.frame(N // 2), full[N // 2])
    assert stream.decoded <= N // 2 + 1 + stream.read_ahead
    for i in range(N):
        assert np.array_equal(video.frame(i), full[i]), i
    video.close()
    with pytest.raises(VideoLoadError, match="closed"):
        stream.get(N - 1)  # what was decoded went with close()


def test_compressed_frames_past_the_ram_budget_go_to_disk(clip, tmp_path):
    full, _ = decode_video_file(clip, max_raw_bytes=1)  # every frame JPEG, decoded up front
    video = load_video(clip, max_raw_bytes=1, frames_ram_bytes=4 * len(full[0].data), spill_dir=str(tmp_path))
    for i in range(N):
        stored = video.stored(i)
        assert isinstance(stored, EncodedFrame) and stored.data == full[i].data, i
        assert np.array_equal(video.frame(i), full[i].decode())
    stream = video._stream
    assert stream.ram_stored_bytes <= 4 * len(full[0].data) + max(len(f.data) for f in full)
    assert stream.disk_bytes > 0
    (folder,) = list(tmp_path.iterdir())
    del video, stream
    import gc
    gc.collect()  # the frames' folder goes with them
    assert not folder.exists()


def test_video_bytes_are_streamed_from_a_temporary_copy(clip):
    with open(clip, "rb") as f:
        video = load_video(f.read())
    folder = os.path.dirname(video._stream.path)
    assert os.path.isdir(folder) and len(video) == N
    assert video.frame(N - 1).shape == (H, W, 3)
    video.close()
    assert not os.path.exists(folder)
