"""Read an uploaded video within the app's limits: trim, downscale, reduce the frame rate.

Tracking costs one image encoding and one memory attention per frame and object (seconds
per frame on a CPU), and the session keeps every frame, so the app works on a bounded
version of the upload rather than refusing it:

* longer than ``max_seconds`` (or than ``max_frames`` at the chosen rate): the start of
  the clip is kept;
* more than ``max_fps`` frames per second: every k-th frame is kept (k = ceil(fps/max)),
  so processed frame i is exactly source frame i * k;
* larger than ``max_short_side`` / ``max_long_side``: downscaled to fit (even sizes).

The one decoder is ``sam2.media.video.decode_video`` (ffmpeg, the binary of
``imageio-ffmpeg``, does all three while decoding, so a long 4K upload is never decoded in
full nor held at full size); this module decides the limits and words the messages. The file is always read at a
constant rate, its stream's rate (variable-frame-rate files get frames duplicated or
dropped to it), and ``iter_source_frames`` reads it again the same way at full size, so
the exports can be made at the upload's own size and rate (``DecodedClip.source``).
Each change is reported in ``DecodedClip.notes`` for the user.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import logging

import numpy as np

from sam2.media.file_kind import sniff_file
from sam2.media.video import VideoLoadError, decode_video, fit_within, iter_video_frames
from ui.common.errors import UserError
from ui.common import run_folder
from ui.video.clip_frames import FRAMES_RAM_BYTES, RAW_BYTES_BUDGET, ClipFrames

# imageio-ffmpeg logs a warning whenever the output size differs from the source's, which
# is exactly what downscaling asks for.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)



#: Seconds per tracked frame with one object that the CPU bounds are sized from: EdgeTAM in
#: fast mode, the tab's default tracker on a CPU (``ui.models.names.CPU_SECONDS_PER_FRAME``,
#: measured on the project's 2-core VM).
CPU_TRACK_SECONDS_PER_FRAME = 0.45


def _duration(seconds: float) -> str:
    """``90`` -> "1 min 30 s", ``300`` -> "5 min", ``4`` -> "4 s"."""
    m, s = divmod(round(float(seconds)), 60)
    if seconds < 60 or abs(seconds - round(seconds)) > 1e-9:
        return f"{seconds:g} s"
    return f"{m} min" + (f" {s} s" if s else "")


@dataclass(frozen=True)
class VideoLimits:
    """What the app accepts per clip; larger uploads are trimmed / downscaled, with a note.

    The defaults (``for_device``) bound the time a clip takes to track, not the memory: the
    server keeps a clip's frames and the tracker's data in bounded RAM whatever the length
    (the rest on disk, ``ui.video.clip_frames`` and ``sam2.spill_store``), and the page
    holds a window of frames around the playhead. On a CPU, 1,800 frames (5 minutes at
    6 fps, 2 minutes at 15 fps) take about 14 minutes to track with one object at
    ``CPU_TRACK_SECONDS_PER_FRAME``.
    """

    max_seconds: float = 300.0
    max_frames: int = 1800
    max_fps: float = 15.0
    max_short_side: int = 480
    max_long_side: int = 854

    def __post_init__(self) -> None:
        if not (self.max_seconds > 0 and self.max_frames >= 1 and self.max_fps > 0
                and self.max_short_side >= 16 and self.max_long_side >= self.max_short_side):
            raise ValueError(f"invalid video limits: {self}")

    @classmethod
    def for_device(cls, device: str, env: Optional[Dict[str, str]] = None) -> "VideoLimits":
        """CPU: 5 min, 1,800 frames, 15 fps, 480p (about 14 minutes of tracking per object
        with EdgeTAM fast); CUDA: 10 min, 9,000 frames, 30 fps, 720p (a GPU tracks tens of
        frames per second; what bounds it is the disk the tracker's data takes, about 0.75
        MiB per frame and object with SAM 2, ~6.6 GiB for 9,000 frames). Each is overridable
        with ``SAM2_VIDEO_MAX_SECONDS``, ``SAM2_VIDEO_MAX_FRAMES``, ``SAM2_VIDEO_MAX_FPS``,
        ``SAM2_VIDEO_MAX_SIDE`` (short side) environment variables."""
        env = os.environ if env is None else env
        if str(device).startswith("cuda"):
            base = cls(max_seconds=600.0, max_frames=9000, max_fps=30.0, max_short_side=720, max_long_side=1280)
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

    def max_clip_bytes(self) -> int:
        """Bytes of RAM the frames of a clip within these limits may take: raw RGB frames up
        to ``RAW_BYTES_BUDGET`` (past it they are JPEG, at most ``FRAMES_RAM_BYTES`` in RAM,
        the rest on disk: ``ui.video.clip_frames``)."""
        raw = int(self.max_frames) * int(self.max_short_side) * int(self.max_long_side) * 3
        return min(raw, max(RAW_BYTES_BUDGET, FRAMES_RAM_BYTES))

    def describe(self) -> str:
        return (f"up to {_duration(self.max_seconds)} and {self.max_frames:,} frames, at most {self.max_fps:g} fps "
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

    frames: Sequence  # ClipFrames (H x W x 3 uint8 arrays, or EncodedFrame when large; some on disk)
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


#: File kinds (``sam2.media.file_kind``) refused by name before ffmpeg sees them.
NOT_VIDEO = ("vector", "document", "archive", "web", "text", "audio")


def _explain(exc: BaseException, name: str) -> UserError:
    """A ``VideoLoadError`` of the decoder (or ffmpeg's own exception) as a reason for the
    user, without the server's file path."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    text = str(cause)
    low = text.lower()
    if "contains no frames" in low:
        why = "it contains no frames"
    elif "no picture size" in low:
        why = "it has no picture size"
    elif "does not contain any stream" in low or "no video" in low or "matches no streams" in low:
        why = "it has no video track (an audio-only file?)"
    elif "moov atom not found" in low or "invalid data found" in low or "end of file" in low:
        why = "the file is corrupt, truncated or not a video"
    elif isinstance(cause, (IndexError, KeyError, AttributeError)):  # imageio-ffmpeg found no video stream line
        why = "it has no video track (an audio-only file?)"
    else:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        why = _without_paths(lines[-1]) if lines else type(cause).__name__
    return UserError(f"Could not read {name!r} as a video: {why}.")


def _without_paths(line: str) -> str:
    """ffmpeg's last line with any file path (the server's temporary folders) cut out."""
    return re.sub(r"(?:[A-Za-z]:)?[\\/][^\s'\":,]*[\\/][^\s'\":,]*", "the file", line)


def fit_size(width: int, height: int, limits: VideoLimits) -> Tuple[int, int]:
    """(w, h) scaled down to fit the limits (even sides), or unchanged when it fits."""
    return fit_within(width, height, limits.max_short_side, limits.max_long_side)


def decode_clip(path: str, limits: VideoLimits, name: Optional[str] = None,
                raw_bytes_budget: Optional[int] = None, frames_ram_bytes: Optional[int] = None,
                folder_root: Optional[str] = None) -> DecodedClip:
    """Decode ``path`` within ``limits`` (``sam2.media.video.decode_video`` does the work)
    into a ``ClipFrames`` (bounded RAM, the rest on disk under ``folder_root``, default the
    run folder; budgets None: ``ui.video.clip_frames``'s); ``UserError`` with a readable reason on failure, and a note per limit
    applied. The caller owns the frames: ``clip.frames.close()`` deletes them."""
    name = name or os.path.basename(path)
    if not path or not os.path.isfile(path):
        raise UserError(f"The video {name!r} was not received; please upload it again.")
    if os.path.getsize(path) == 0:
        raise UserError(f"The file {name!r} is empty (0 bytes).")
    kind = sniff_file(path)
    if kind.category in NOT_VIDEO:
        what = kind.description + (", with no video track" if kind.category == "audio" else "")
        raise UserError(f"Could not read {name} as a video: it is {what}. "
                          "Please upload an MP4, MOV, WebM, MKV or AVI file.")
    store = ClipFrames(raw_bytes_budget, frames_ram_bytes, folder_root)
    try:
        d = decode_video(path, max_seconds=limits.max_seconds, max_frames=limits.max_frames,
                         max_fps=limits.max_fps, max_short_side=limits.max_short_side,
                         max_long_side=limits.max_long_side, keep_partial=True, sink=store)
    except VideoLoadError as exc:
        store.close()
        raise _explain(exc, name) from None
    except BaseException:
        store.close()
        raise
    probe = d.probe
    notes: List[str] = []
    header_fps = header_frame_rate(path) if d.fps_assumed else None
    if header_fps:  # a rate the probe could not parse ("1k fps"): the file was read at d.fps by its timestamps
        probe = probe._replace(fps=header_fps)
        notes.append(f"frame rate reduced from {header_fps:g} to {d.fps:.4g} fps")
    elif d.fps_assumed:
        notes.append(f"the frame rate is unknown; assumed {d.fps:g} fps")
    elif d.stride > 1:
        notes.append(f"frame rate reduced from {probe.fps:g} to {d.fps:.4g} fps (1 frame in {d.stride} kept)")
    if d.resized:
        notes.append(f"downscaled from {probe.width}x{probe.height} to {d.width}x{d.height}")
    if d.damaged_after is not None:
        notes.append(f"the file is damaged after frame {d.damaged_after}; kept the frames before")
    if d.capped:
        notes.insert(0, f"trimmed to the first {_duration(round(len(d.frames) / d.fps, 1))} ({len(d.frames):,} frames) "
                        f"of {_duration(round(probe.seconds, 1))}: this server takes clips of at most "
                        f"{_duration(limits.max_seconds)} and {limits.max_frames:,} frames; upload the rest "
                        "as another clip to track it")
    return DecodedClip(
        frames=d.frames, fps=d.fps, width=d.width, height=d.height, name=name,
        source_size=(probe.width, probe.height), source_fps=probe.fps, source_seconds=probe.seconds,
        notes=notes,
        source=SourceSpan(path=path, width=probe.width, height=probe.height, fps=float(d.read_fps or d.fps),
                          stride=d.stride, num_processed=len(d.frames), trim_s=d.trim_s),
    )


_HEADER_FPS = re.compile(r"Stream #.*?Video:.*?,\s*([0-9]+(?:\.[0-9]+)?)(k?)\s+fps")


def header_frame_rate(path: str) -> Optional[float]:
    """The frame rate a file's video stream header gives, as ffmpeg prints it ("29.97 fps",
    "1k fps"; imageio-ffmpeg's probe reads no "k" rates), or None."""
    import subprocess

    import imageio_ffmpeg

    try:
        done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _HEADER_FPS.search(done.stderr)
    if match is None:
        return None
    fps = float(match.group(1)) * (1000.0 if match.group(2) else 1.0)
    return fps if 0 < fps < 1e6 else None


def iter_source_frames(span: SourceSpan, size: Optional[Tuple[int, int]] = None) -> Iterator[np.ndarray]:
    """The source frames of ``span`` (H x W x 3 uint8 at the file's own size, or scaled by
    ffmpeg to ``size`` = (width, height)), one at a time: the file is decoded as it is
    consumed, never held in memory. Raises ``UserError`` if the file cannot be read (it
    was read before, so this means it changed or vanished)."""
    if not os.path.isfile(span.path):
        raise UserError("The uploaded video is no longer available; load it again to export.")
    filters = [f"scale={int(size[0])}:{int(size[1])}:flags=area"] if size is not None else []
    try:
        yield from iter_video_frames(span.path, span.fps, span.trim_s, filters=filters, max_frames=span.max_frames)
    except VideoLoadError as exc:
        raise _explain(exc, os.path.basename(span.path)) from None


class KeptFile:
    """A private hard link (a copy where linking fails) of an upload: the exports read the
    file again, whatever happens to Gradio's temporary copy meanwhile. ``delete()`` frees it."""

    def __init__(self, path: str) -> None:
        self._dir = tempfile.mkdtemp(prefix="source-", dir=run_folder.current().sub("sources"))
        self.path = os.path.join(self._dir, "source" + os.path.splitext(path)[1].lower())
        try:
            os.link(path, self.path)
        except OSError:
            shutil.copyfile(path, self.path)

    def delete(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)
