"""Read an uploaded video within the app's limits: trim, downscale, reduce the frame rate.

Tracking costs one image encoding and one memory attention per frame and object (seconds
per frame on a CPU), and the session keeps every frame, so the app works on a bounded
version of the upload rather than refusing it:

* longer than ``max_seconds`` (or than ``max_frames`` at the chosen rate): the start of
  the clip is kept;
* more than ``max_fps`` frames per second: every k-th frame is kept (k = ceil(fps/max)),
  so processed frame i is exactly source frame i * k;
* larger than ``max_short_side`` / ``max_long_side``: downscaled to fit (even sizes).

ffmpeg (the binary of ``imageio-ffmpeg``) does all three while decoding, so a long 4K
upload is never decoded in full nor held at full size. The file is always read at a
constant rate, its stream's rate (variable-frame-rate files get frames duplicated or
dropped to it), and ``iter_source_frames`` reads it again the same way at full size, so
the exports can be made at the upload's own size and rate (``DecodedClip.source``).
Each change is reported in ``DecodedClip.notes`` for the user.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import logging

import numpy as np

from sam2.media.file_kind import sniff_file
from ui.prompts import PromptError

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


@dataclass(frozen=True)
class SourceSpan:
    """Where the processed frames come from in the uploaded file (for full-fidelity exports).

    The file read at ``fps`` (constant), for at most ``trim_s`` seconds, gives the source
    frames; processed frame i is source frame ``i * stride``, so the processed clip spans
    source frames ``0 .. num_processed * stride - 1`` (fewer if the file ends first).
    """

    path: str
    width: int
    height: int
    fps: float
    stride: int
    num_processed: int
    trim_s: Optional[float] = None

    @property
    def max_frames(self) -> int:
        return self.num_processed * self.stride

    def with_path(self, path: str) -> "SourceSpan":
        return replace(self, path=path)


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
    source: Optional[SourceSpan] = None  # how to read the upload again at full fidelity

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

    read_fps = fps * stride  # the constant rate the file is read at (its own, or the assumed one)
    extra = [f"select=not(mod(n\\,{stride}))"] if stride > 1 else []
    if (width, height) != (probe.width, probe.height):
        extra.append(f"scale={width}:{height}:flags=area")
    output_params = _read_params(read_fps, extra)
    trim_s = round(max_seconds, 3) if trimmed else None
    input_params = ["-t", f"{trim_s:.3f}"] if trim_s is not None else None

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
        source=SourceSpan(path=path, width=probe.width, height=probe.height, fps=float(read_fps),
                          stride=stride, num_processed=len(frames), trim_s=trim_s),
    )


def _read_params(read_fps: float, extra: Sequence[str] = ()) -> List[str]:
    """ffmpeg output options shared by ``decode_clip`` and ``iter_source_frames``: a constant
    ``read_fps`` first, so both number the source frames the same way; every frame the
    filters give is passed through (the selection sets the rate, not the muxer)."""
    return ["-vf", ",".join([f"fps={read_fps:.6f}", *extra]), "-fps_mode", "passthrough"]


def iter_source_frames(span: SourceSpan) -> Iterator[np.ndarray]:
    """The source frames of ``span`` (H x W x 3 uint8 at the file's own size), one at a
    time: the file is decoded as it is consumed, never held in memory. Raises ``PromptError``
    if the file cannot be read (it was read before, so this means it changed or vanished)."""
    import imageio_ffmpeg

    if not os.path.isfile(span.path):
        raise PromptError("The uploaded video is no longer available; load it again to export.")
    input_params = ["-t", f"{span.trim_s:.3f}"] if span.trim_s is not None else None
    gen = imageio_ffmpeg.read_frames(span.path, input_params=input_params,
                                     output_params=_read_params(span.fps))
    try:
        try:
            meta = next(gen)
        except Exception as exc:  # noqa: BLE001 - classified for the user
            raise _explain(exc, os.path.basename(span.path)) from None
        w, h = (int(v) for v in meta["size"])
        for count, raw in enumerate(gen):
            if count >= span.max_frames:
                break
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    finally:
        gen.close()


class KeptFile:
    """A private hard link (a copy where linking fails) of an upload: the exports read the
    file again, whatever happens to Gradio's temporary copy meanwhile. ``delete()`` frees it."""

    def __init__(self, path: str) -> None:
        import shutil
        import tempfile

        self._dir = tempfile.mkdtemp(prefix="sam2_source_")
        self.path = os.path.join(self._dir, "source" + os.path.splitext(path)[1].lower())
        try:
            os.link(path, self.path)
        except OSError:
            shutil.copyfile(path, self.path)

    def delete(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)
