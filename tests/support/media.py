"""Test media: the shared real photos and clips (../shared/media, never committed) and small
synthetic clips and video predictors made on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from sam2.media.mp4 import write_mp4

from tests.support.paths import REPO


def shared_media_dir() -> Path:
    """Real photos/videos live beside the checkpoint (../shared/media), never in the repo."""
    env = os.environ.get("SAM2_SHARED_MEDIA")
    return Path(env) if env else REPO.parent / "shared" / "media"



def moving_square_clip(num: int, height: int, width: int, seed: int, top: int, left: int,
                       step: int, value: int, side: int = 20) -> np.ndarray:
    """A tiny synthetic clip: dark noise with a bright ``side``-pixel square that moves
    ``step`` pixels to the right per frame (num x height x width x 3, uint8)."""
    frames = (np.random.RandomState(seed).rand(num, height, width, 3) * 60).astype(np.uint8)
    for i in range(num):
        frames[i, top:top + side, left + step * i: left + step * i + side] = value
    return frames



def small_video_predictor(config: str, image_size: int, **kwargs):
    """A seeded random ``SAM2VideoPredictor`` of ``config`` at a small input size, with the
    options the session tests rely on (small holes filled, binarised memory from clicks)."""
    from sam2.configs import get_config
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    torch.manual_seed(0)
    cfg = get_config(config, image_size=image_size, fill_hole_area=8, binarize_mask_from_pts_for_mem_enc=True)
    return SAM2VideoPredictor(cfg, **kwargs).eval()


SQUARES_HW = (120, 160)


def squares_frames(n: int):
    for i in range(n):
        img = np.zeros(SQUARES_HW + (3,), np.uint8)
        img[:] = np.linspace(60, 200, SQUARES_HW[1], dtype=np.uint8)[None, :, None]
        img[30:70, 20 + 10 * i: 60 + 10 * i] = (220, 40, 40)
        img[60:100, 110 - 8 * i: 140 - 8 * i] = (40, 60, 220)
        yield img


def write_squares_clip(path: str, n: int = 3) -> str:
    """Two coloured squares moving over a gradient, as an H.264 MP4."""
    return write_mp4(path, squares_frames(n), fps=6)


def pattern_clip(folder, name: str = "clip.mp4", size: str = "160x120", fps: int = 8, seconds: float = 1,
                 frames: int = 0) -> str:
    """FFmpeg's moving test pattern as an H.264 MP4 in ``folder``: ``seconds`` long, or exactly
    ``frames`` frames when given (a real encoded clip, as a user would upload)."""
    import subprocess

    import imageio_ffmpeg

    path = str(Path(folder) / name)
    length = ["-frames:v", str(frames)] if frames else ["-t", f"{seconds:g}"]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}:rate={fps}", *length, "-pix_fmt", "yuv420p", path], check=True)
    return path
