"""A 1000 fps clip: ffmpeg prints its rate as "1k fps", which imageio-ffmpeg's probe cannot
read; the clip is still described by its real rate, not "frame rate unknown"."""

from __future__ import annotations

import subprocess

from ui.video.media import VideoLimits, decode_clip, header_frame_rate


def test_a_1000_fps_clip_is_reported_with_its_rate(tmp_path):
    import imageio_ffmpeg

    path = str(tmp_path / "fast.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=1000", "-t", "0.4", "-pix_fmt", "yuv420p", path], check=True, timeout=60)
    assert header_frame_rate(path) == 1000.0
    clip = decode_clip(path, VideoLimits(max_fps=10))
    assert clip.notes == ["frame rate reduced from 1000 to 10 fps"]
    assert clip.fps == 10 and clip.num_frames == 4 and clip.source_fps == 1000.0
    assert header_frame_rate(str(tmp_path / "missing.mp4")) is None
