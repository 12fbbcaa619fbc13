"""Video input for tracking: decode once, keep frames compact, build model inputs on demand.

A video can be given as
* a video file (``.mp4``, ``.mov``, ``.webm``, ``.mkv``, ``.avi``, ``.m4v``) or its bytes,
  decoded with the ffmpeg binary that ``imageio-ffmpeg`` ships;
* a folder of JPEG/PNG frames, ordered by the number in their file names (``00012.jpg``)
  like the reference, falling back to natural order for other names;
* a list of RGB frames (numpy arrays or PIL images) or an N x H x W x 3 array.

Frames are kept compactly, never as the reference's float32 1024x1024 copy of every frame
(12 MB each):

* frames of a folder are kept as their files' bytes and decoded when needed (the same
  pixels as decoding the file, at a tenth of the memory);
* frames decoded from a video file are kept as uint8 RGB at the original resolution while
  the whole clip stays under ``max_raw_bytes`` (1 GiB by default: 30 s of 720p at 30 fps);
  a longer clip is kept JPEG-compressed at quality 95 instead (visually lossless, about
  15x smaller), so a one-minute 720p clip needs a few hundred MB;
* frames given as arrays are kept as given.

The model input of a frame is computed when asked for, with the reference's rule for JPEG
folders — PIL bicubic ``resize((S, S))``, ``/ 255`` and ImageNet mean/std — for every kind
of input, and a few recent results (and decoded frames) are kept in small LRU caches.
"""

from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence, Union

import numpy as np
import torch

from sam2.media.frame_codec import (DEFAULT_MAX_RAW_BYTES, JPEG_QUALITY, EncodedFrame, StoredFrame, VideoLoadError,
                                    encode_jpeg)
from sam2.media.frame_preprocess import IMAGENET_MEAN, IMAGENET_STD, preprocess_frame
from sam2.media.frame_store import (FRAME_EXTENSIONS, LRUCache, VideoFrames, _load_folder, list_frame_files)
from sam2.media.images import ImageLoadError, load_image
from sam2.media.video_decode import (ASSUMED_FPS, VIDEO_EXTENSIONS, DecodedVideo, VideoProbe, constant_rate_params,
                                     decode_video, decode_video_file, fit_within, has_audio, iter_video_frames,
                                     probe_video)

VideoSource = Union[str, os.PathLike, bytes, np.ndarray, Sequence]

def load_video(
    source: VideoSource,
    image_size: int = 1024,
    async_loading_frames: bool = False,
    cache_size: int = 4,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    max_raw_bytes: Optional[int] = DEFAULT_MAX_RAW_BYTES,
) -> VideoFrames:
    """Open a video (file path, file bytes, frame folder, frame list or array).

    Raises ``VideoLoadError`` (a ``ValueError``) for missing, unreadable, empty or
    inconsistent input. ``async_loading_frames`` decodes a frame folder in the background.
    A decoded video file larger than ``max_raw_bytes`` is kept JPEG-compressed (None: never).
    """
    if isinstance(source, VideoFrames):
        return source
    opts = dict(image_size=image_size, cache_size=cache_size, mean=mean, std=std)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise VideoLoadError("the video data is empty")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "video")
            with open(path, "wb") as f:
                f.write(source)
            frames, fps = decode_video_file(path, max_raw_bytes)
        return VideoFrames(frames, source="<bytes>", fps=fps, **opts)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return _load_folder(path, async_loading_frames, **opts)
        if not os.path.exists(path):
            raise VideoLoadError(f"no such video file or frame folder: {path}")
        ext = os.path.splitext(path)[1].lower()
        if ext in FRAME_EXTENSIONS:  # a single image: a one-frame video
            try:
                return VideoFrames([load_image(path)], source=path, **opts)
            except ImageLoadError as exc:
                raise VideoLoadError(f"cannot read {path}: {exc}") from exc
        if ext not in VIDEO_EXTENSIONS:
            raise VideoLoadError(
                f"unsupported video input {path}: expected a video file "
                f"({', '.join(VIDEO_EXTENSIONS)}) or a folder of JPEG/PNG frames"
            )
        if os.path.getsize(path) == 0:
            raise VideoLoadError(f"video file {path} is empty")
        frames, fps = decode_video_file(path, max_raw_bytes)
        return VideoFrames(frames, source=path, fps=fps, **opts)
    if isinstance(source, np.ndarray):
        if source.ndim != 4 and not (source.ndim == 3 and source.dtype != object):
            raise VideoLoadError(f"a video array must be N x H x W x 3 (or N x H x W), got shape {source.shape}")
        if len(source) == 0:
            raise VideoLoadError("the video array has no frames")
        return VideoFrames(list(source), source="<array>", **opts)
    if isinstance(source, torch.Tensor):
        raise VideoLoadError("pass video frames as numpy arrays (N x H x W x 3 uint8 RGB), not a torch tensor")
    if isinstance(source, (list, tuple)):
        if len(source) == 0:
            raise VideoLoadError("the list of video frames is empty")
        return VideoFrames(list(source), source="<frames>", **opts)
    raise VideoLoadError(f"unsupported video input of type {type(source).__name__}")


__all__ = [
    "VideoFrames", "VideoLoadError", "LRUCache", "EncodedFrame", "StoredFrame", "encode_jpeg", "load_video",
    "preprocess_frame", "decode_video_file", "decode_video", "DecodedVideo", "VideoProbe", "probe_video",
    "iter_video_frames", "fit_within", "constant_rate_params", "list_frame_files", "has_audio", "VIDEO_EXTENSIONS",
    "FRAME_EXTENSIONS", "IMAGENET_MEAN", "IMAGENET_STD", "DEFAULT_MAX_RAW_BYTES", "JPEG_QUALITY", "ASSUMED_FPS",
]
