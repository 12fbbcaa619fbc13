"""sam2.media.mp4.write_mp4: H.264 yuv420p that browsers play, odd sizes padded, bad input refused."""

import subprocess

import numpy as np
import pytest


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
