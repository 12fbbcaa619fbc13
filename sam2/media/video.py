"""Video input for tracking: decode as needed, keep frames compact, build model inputs on demand.

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
* a video file is decoded as its frames are asked for (``frame_stream``: counted from its
  packets, then decoded in order on a background thread a few frames ahead), never the whole
  clip up front; frames are kept as uint8 RGB at the original resolution while the whole
  clip stays under ``max_raw_bytes`` (1 GiB by default: 30 s of 720p at 30 fps); a longer
  clip is kept JPEG-compressed at quality 95 instead (visually lossless, about 15x smaller),
  in RAM up to ``frames_ram_bytes`` (256 MiB) and past it on disk;
* frames given as arrays are kept as given.

The model input of a frame is computed when asked for, with the reference's rule for JPEG
folders — PIL bicubic ``resize((S, S))``, ``/ 255`` and ImageNet mean/std — for every kind
of input, and a few recent results (and decoded frames) are kept in small LRU caches.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional, Sequence, Union

import numpy as np
import torch

from sam2.media.frame_codec import (DEFAULT_MAX_RAW_BYTES, JPEG_QUALITY, EncodedFrame, StoredFrame, VideoLoadError,
                                    encode_jpeg)
from sam2.media.frame_preprocess import IMAGENET_MEAN, IMAGENET_STD, preprocess_frame
from sam2.media.frame_stream import DEFAULT_FRAMES_RAM_BYTES, StreamedVideoFile
from sam2.media.frame_store import (FRAME_EXTENSIONS, LRUCache, VideoFrames, list_frame_files, load_frame_folder)
from sam2.media.images import ImageLoadError, load_image
from sam2.media.video_decode import (ASSUMED_FPS, VIDEO_EXTENSIONS, DecodedVideo, VideoProbe, constant_rate_params,
                                     count_video_frames, decode_video, decode_video_file, fit_within, has_audio, iter_video_frames,
                                     probe_video)

VideoSource = Union[str, os.PathLike, bytes, np.ndarray, Sequence]

def _open_video_file(path: str, name: str, opts: dict, max_raw_bytes: Optional[int],
                     frames_ram_bytes: Optional[int], spill_dir: Optional[str],
                     owned: Optional[str] = None) -> VideoFrames:
    """A video file as ``VideoFrames`` decoded on demand, each frame kept in the form that
    decoding the whole file up front would give (raw within ``max_raw_bytes``, else JPEG)."""
    probe = probe_video(path)
    count = count_video_frames(path)
    if count <= 0:
        raise VideoLoadError(f"video file {path} contains no frames")
    compress = max_raw_bytes is not None and count * probe.width * probe.height * 3 > max_raw_bytes
    stream = StreamedVideoFile(path, count, probe.width, probe.height, compress, ram_bytes=frames_ram_bytes,
                               spill_dir=spill_dir, owned_folder=owned)
    try:
        return VideoFrames(source=name, fps=probe.fps, stream=stream, **opts)
    except BaseException:
        stream.close()
        raise


def load_video(
    source: VideoSource,
    image_size: int = 1024,
    async_loading_frames: bool = False,
    cache_size: int = 4,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    max_raw_bytes: Optional[int] = DEFAULT_MAX_RAW_BYTES,
    frames_ram_bytes: Optional[int] = DEFAULT_FRAMES_RAM_BYTES,
    spill_dir: Optional[str] = None,
) -> VideoFrames:
    """Open a video (file path, file bytes, frame folder, frame list or array).

    Raises ``VideoLoadError`` (a ``ValueError``) for missing, unreadable, empty or
    inconsistent input. ``async_loading_frames`` decodes a frame folder in the background.
    A video file is decoded as its frames are asked for (``StreamedVideoFile``); a clip
    larger than ``max_raw_bytes`` decoded is kept JPEG-compressed (None: never), in RAM up to
    ``frames_ram_bytes`` (None: no limit) and past it in a folder under ``spill_dir``.
    """
    if isinstance(source, VideoFrames):
        return source
    opts = dict(image_size=image_size, cache_size=cache_size, mean=mean, std=std)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise VideoLoadError("the video data is empty")
        tmp = tempfile.mkdtemp(prefix="sam2-video-")
        try:
            path = os.path.join(tmp, "video")
            with open(path, "wb") as f:
                f.write(source)
            return _open_video_file(path, "<bytes>", opts, max_raw_bytes, frames_ram_bytes, spill_dir, owned=tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return load_frame_folder(path, async_loading_frames, **opts)
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
        return _open_video_file(path, path, opts, max_raw_bytes, frames_ram_bytes, spill_dir)
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
    "FRAME_EXTENSIONS", "count_video_frames", "StreamedVideoFile", "DEFAULT_FRAMES_RAM_BYTES", "IMAGENET_MEAN", "IMAGENET_STD", "DEFAULT_MAX_RAW_BYTES", "JPEG_QUALITY", "ASSUMED_FPS",
]
