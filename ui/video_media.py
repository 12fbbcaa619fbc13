"""Read an uploaded video within the app's limits: trim, downscale, reduce the frame rate.

Tracking costs one image encoding and one memory attention per frame and object (seconds
per frame on a CPU), and the session keeps every frame, so the app works on a bounded
version of the upload rather than refusing it:

* longer than ``max_seconds`` (or than ``max_frames`` at the chosen rate): the start of
  the clip is kept;
* more than ``max_fps`` frames per second: every k-th frame is kept (k = ceil(fps/max));
* larger than ``max_short_side`` / ``max_long_side``: downscaled to fit (even sizes).

ffmpeg (the binary of ``imageio-ffmpeg``) does all three while decoding, so a long 4K
upload is never decoded in full nor held at full size. Variable-frame-rate files come
out at a constant rate (ffmpeg duplicates or drops frames to the stream's average rate).
Each change is reported in ``DecodedClip.notes`` for the user.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import logging

import numpy as np

from sam2.media.file_kind import sniff_file
from ui.image_state import PromptError

# imageio-ffmpeg logs a warning whenever the output size differs from the source's, which
# is exactly what downscaling asks for.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)

#: Container formats offered in the upload box (ffmpeg reads more; those are accepted too).
VIDEO_FILE_TYPES = [".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"]

#: Frames kept as raw RGB up to this many bytes; above, JPEG quality 95 (~15x smaller).
RAW_BYTES_BUDGET = 256 * 1024 * 1024


@dataclass(frozen=True)
class VideoLimits:
    """What the app accepts per clip; larger uploads are trimmed / downscaled, with a note."""

    max_seconds: float = 10.0
    max_frames: int = 150
    max_fps: float = 15.0
    max_short_side: int = 480
    max_long_side: int = 854

    def __post_init__(self) -> None:
        if not (self.max_seconds > 0 and self.max_frames >= 1 and self.max_fps > 0
                and self.max_short_side >= 16 and self.max_long_side >= self.max_short_side):
            raise ValueError(f"invalid video limits: {self}")

    @classmethod
    def for_device(cls, device: str, env: Optional[Dict[str, str]] = None) -> "VideoLimits":
        """CPU-friendly defaults (10 s, 15 fps, 480p), larger on CUDA (30 s, 30 fps, 720p),
        each overridable with ``SAM2_VIDEO_MAX_SECONDS``, ``SAM2_VIDEO_MAX_FRAMES``,
        ``SAM2_VIDEO_MAX_FPS``, ``SAM2_VIDEO_MAX_SIDE`` (short side) environment variables."""
        env = os.environ if env is None else env
        if str(device).startswith("cuda"):
            base = cls(max_seconds=30.0, max_frames=600, max_fps=30.0, max_short_side=720, max_long_side=1280)
        else:
            base = cls()
        changes = {}
        for key, name, cast in (("SAM2_VIDEO_MAX_SECONDS", "max_seconds", float),
                                ("SAM2_VIDEO_MAX_FRAMES", "max_frames", int),
                                ("SAM2_VIDEO_MAX_FPS", "max_fps", float),
                                ("SAM2_VIDEO_MAX_SIDE", "max_short_side", int)):
            text = env.get(key)
            if text:
                try:
                    changes[name] = cast(text)
                except ValueError:
                    raise ValueError(f"{key}={text!r} is not a number") from None
        if "max_short_side" in changes:
            changes["max_long_side"] = max(base.max_long_side, int(round(changes["max_short_side"] * 16 / 9)))
        return replace(base, **changes)

    def describe(self) -> str:
        return (f"up to {self.max_seconds:g} s and {self.max_frames} frames, at most {self.max_fps:g} fps "
                f"and {self.max_short_side}p (longer, faster or larger videos are trimmed, thinned "
                f"out or downscaled)")


@dataclass
class DecodedClip:
    """Frames ready for the tracker, and how they relate to the uploaded file."""

    frames: List  # H x W x 3 uint8 arrays, or sam2.media.video.EncodedFrame when large
    fps: float
    width: int
    height: int
    name: str
    source_size: Tuple[int, int]  # (w, h) of the upload
    source_fps: float
    source_seconds: float
    notes: List[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class _Probe:
    width: int
    height: int
    fps: float
    seconds: float


#: File kinds (``sam2.media.file_kind``) refused by name before ffmpeg sees them.
NOT_VIDEO = ("vector", "document", "archive", "web", "text", "audio")


def _explain(exc: BaseException, name: str) -> PromptError:
    text = str(exc)
    low = text.lower()
    if "does not contain any stream" in low or "no video" in low or "matches no streams" in low:
        why = "it has no video track (an audio-only file?)"
    elif "moov atom not found" in low or "invalid data found" in low or "end of file" in low:
        why = "the file is corrupt, truncated or not a video"
    elif isinstance(exc, (IndexError, KeyError, AttributeError)):  # imageio-ffmpeg found no video stream line
        why = "it has no video track (an audio-only file?)"
    else:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        why = lines[-1] if lines else type(exc).__name__
    return PromptError(f"Could not read {name!r} as a video: {why}.")


def _probe(path: str, name: str) -> _Probe:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(gen)
    except StopIteration:
        raise PromptError(f"Could not read {name!r} as a video: it contains no frames.") from None
    except Exception as exc:  # noqa: BLE001 - ffmpeg's reasons vary; classified for the user
        raise _explain(exc, name) from None
    finally:
        gen.close()
    w, h = (int(v) for v in meta.get("size", (0, 0)))
    if w <= 0 or h <= 0:
        raise PromptError(f"Could not read {name!r} as a video: it has no picture size.")
    fps = float(meta.get("fps") or 0.0)
    seconds = float(meta.get("duration") or 0.0)
    return _Probe(w, h, fps if math.isfinite(fps) else 0.0, seconds if math.isfinite(seconds) else 0.0)


def fit_size(width: int, height: int, limits: VideoLimits) -> Tuple[int, int]:
    """(w, h) scaled down to fit the limits (even sides), or unchanged when it fits."""
    short, long = min(width, height), max(width, height)
    scale = min(1.0, limits.max_short_side / short, limits.max_long_side / long)
    if scale >= 1.0:
        return width, height
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def decode_clip(path: str, limits: VideoLimits, name: Optional[str] = None,
                raw_bytes_budget: int = RAW_BYTES_BUDGET) -> DecodedClip:
    """Decode ``path`` within ``limits``. ``PromptError`` with a readable reason on failure."""
    import imageio_ffmpeg

    name = name or os.path.basename(path)
    if not path or not os.path.isfile(path):
        raise PromptError(f"The video {name!r} was not received; please upload it again.")
    if os.path.getsize(path) == 0:
        raise PromptError(f"The file {name!r} is empty (0 bytes).")
    kind = sniff_file(path)
    if kind.category in NOT_VIDEO:
        what = kind.description + (", with no video track" if kind.category == "audio" else "")
        raise PromptError(f"Could not read {name} as a video: it is {what}. "
                          "Please upload an MP4, MOV, WebM, MKV or AVI file.")
    probe = _probe(path, name)
    notes: List[str] = []

    stride = 1
    fps = probe.fps
    if fps <= 0:
        fps = min(limits.max_fps, 24.0)
        notes.append(f"the frame rate is unknown; assumed {fps:g} fps")
    elif fps > limits.max_fps + 1e-6:
        stride = int(math.ceil(fps / limits.max_fps - 1e-9))
        notes.append(f"frame rate reduced from {probe.fps:g} to {fps / stride:.4g} fps (1 frame in {stride} kept)")
        fps = fps / stride
    max_seconds = min(limits.max_seconds, limits.max_frames / fps)
    trimmed = probe.seconds > max_seconds + 0.5 / fps
    width, height = fit_size(probe.width, probe.height, limits)
    if (width, height) != (probe.width, probe.height):
        notes.append(f"downscaled from {probe.width}x{probe.height} to {width}x{height}")

    filters = []
    if stride > 1:
        filters.append(f"fps={fps:.6f}")
    if (width, height) != (probe.width, probe.height):
        filters.append(f"scale={width}:{height}:flags=area")
    output_params = ["-vf", ",".join(filters)] if filters else None
    input_params = ["-t", f"{max_seconds:.3f}"] if trimmed else None

    from sam2.media.video import encode_jpeg

    frames: List = []
    raw_total, compress = 0, False
    frame_cap_hit = False
    gen = imageio_ffmpeg.read_frames(path, input_params=input_params, output_params=output_params)
    try:
        meta = next(gen)
        w, h = (int(v) for v in meta["size"])
        for raw in gen:
            if len(frames) >= limits.max_frames:
                frame_cap_hit = True
                break
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
            raw_total += frame.nbytes
            if not compress and raw_total > raw_bytes_budget:
                compress = True
                frames = [encode_jpeg(f) for f in frames]
            frames.append(encode_jpeg(frame) if compress else frame.copy())
    except PromptError:
        raise
    except Exception as exc:  # noqa: BLE001 - a decode error midway: keep what decoded, if anything
        if not frames:
            raise _explain(exc, name) from None
        notes.append(f"the file is damaged after frame {len(frames) - 1}; kept the frames before")
    finally:
        gen.close()
    if not frames:
        raise PromptError(f"Could not read {name!r} as a video: it contains no frames.")
    if trimmed or frame_cap_hit:
        notes.insert(0, f"trimmed to the first {len(frames) / fps:.1f} s ({len(frames)} frames) of "
                        f"{probe.seconds:.1f} s")
    return DecodedClip(
        frames=frames, fps=float(fps), width=w, height=h, name=name,
        source_size=(probe.width, probe.height), source_fps=probe.fps, source_seconds=probe.seconds,
        notes=notes,
    )
