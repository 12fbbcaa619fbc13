"""Decoding video files with ffmpeg (the binary ``imageio-ffmpeg`` ships): probing, counting,
streaming frames as they are consumed, and decoding within limits in one pass."""

from __future__ import annotations

import math
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Iterator, List, NamedTuple, Optional, Protocol, Sequence, Tuple

import numpy as np

from sam2.media.frame_codec import DEFAULT_MAX_RAW_BYTES, StoredFrame, VideoLoadError, encode_jpeg

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")


class FrameSink(Protocol):
    """Where ``decode_video`` puts each decoded frame when given one (H x W x 3 uint8; the
    array may be reused by the decoder after the call, so copy or encode it)."""

    def append(self, frame: np.ndarray) -> None: ...

    def __len__(self) -> int: ...


class VideoProbe(NamedTuple):
    """What a video file's header says: picture size, frame rate and duration (0.0 = unknown)."""

    width: int
    height: int
    fps: float
    seconds: float


def _ffmpeg_error(path: str, exc: BaseException) -> VideoLoadError:
    detail = str(exc).strip().splitlines()
    hint = detail[-1] if detail else type(exc).__name__
    err = VideoLoadError(f"cannot decode video file {path}: {hint}")
    err.__cause__ = exc  # callers that explain ffmpeg's reasons read it
    return err


def probe_video(path: str) -> VideoProbe:
    """Read a video file's header with ffmpeg (no frame is decoded). ``VideoLoadError`` if it
    has no readable video stream; the ffmpeg exception is its ``__cause__``."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(gen)
    except StopIteration:
        raise VideoLoadError(f"video file {path} contains no frames") from None
    except Exception as exc:  # noqa: BLE001 - ffmpeg's reasons vary; kept as the cause
        raise _ffmpeg_error(path, exc) from exc
    finally:
        gen.close()
    w, h = (int(v) for v in meta.get("size", (0, 0)))
    if w <= 0 or h <= 0:
        raise VideoLoadError(f"video file {path} has no picture size")
    fps = float(meta.get("fps") or 0.0)
    seconds = float(meta.get("duration") or 0.0)
    return VideoProbe(w, h, fps if math.isfinite(fps) else 0.0, seconds if math.isfinite(seconds) else 0.0)


def fit_within(width: int, height: int, max_short_side: Optional[int] = None,
               max_long_side: Optional[int] = None) -> Tuple[int, int]:
    """(w, h) scaled down to fit both side limits (even sides), or unchanged when it fits."""
    short, long = min(width, height), max(width, height)
    scale = min(1.0, (max_short_side or short) / short, (max_long_side or long) / long)
    if scale >= 1.0:
        return width, height
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def constant_rate_params(read_fps: float, filters: Sequence[str] = ()) -> List[str]:
    """ffmpeg output options that read a file at the constant rate ``read_fps`` (then
    ``filters``), passing through every frame the filters give: two reads with the same
    ``read_fps`` number the frames the same way, whatever the file's timestamps."""
    return ["-vf", ",".join([f"fps={read_fps:.6f}", *filters]), "-fps_mode", "passthrough"]


def iter_video_frames(path: str, read_fps: Optional[float] = None, trim_s: Optional[float] = None,
                      filters: Sequence[str] = (), max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """The frames of a video file (H x W x 3 uint8 RGB), decoded as they are consumed.

    Without options, every frame as stored; with ``read_fps``, read at that constant rate
    (``constant_rate_params``) then through the ffmpeg ``filters``; ``trim_s``: only the
    first seconds; ``max_frames``: at most that many. Raises ``VideoLoadError`` (the ffmpeg
    exception as its ``__cause__``), also for an error after some frames were given.
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise VideoLoadError("reading video files needs the `imageio-ffmpeg` package") from exc
    output_params = constant_rate_params(read_fps, filters) if read_fps else (["-vf", ",".join(filters)] if filters else None)
    input_params = ["-t", f"{trim_s:.3f}"] if trim_s is not None else None
    gen = imageio_ffmpeg.read_frames(path, input_params=input_params, output_params=output_params)
    try:
        try:
            meta = next(gen)
            width, height = (int(v) for v in meta["size"])
        except StopIteration:
            raise VideoLoadError(f"video file {path} contains no frames") from None
        count = 0
        while max_frames is None or count < max_frames:
            try:
                raw = next(gen)
            except StopIteration:
                return
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            count += 1
    except VideoLoadError:
        raise
    except GeneratorExit:
        raise
    except Exception as exc:  # noqa: BLE001 - ffmpeg's reasons vary; kept as the cause
        raise _ffmpeg_error(path, exc) from exc
    finally:
        gen.close()


@dataclass
class DecodedVideo:
    """A video file decoded within limits (``decode_video``), and how it maps to the file.

    Processed frame i is frame ``i * stride`` of the file read at ``read_fps`` (constant)
    for at most ``trim_s`` seconds; ``read_fps`` is None when the file was read as stored.
    """

    frames: List["StoredFrame"]
    fps: float  # of the decoded frames (0.0: unknown, only when read as stored)
    width: int
    height: int
    probe: VideoProbe
    stride: int = 1
    read_fps: Optional[float] = None
    trim_s: Optional[float] = None
    fps_assumed: bool = False  # the file gave no frame rate; ``fps`` is a guess
    capped: bool = False  # stopped at max_frames / max_seconds before the end of the file
    damaged_after: Optional[int] = None  # a decode error after this frame; the frames before are kept

    @property
    def resized(self) -> bool:
        return (self.width, self.height) != (self.probe.width, self.probe.height)


#: Frame rate assumed (at most) when a file gives none and limits are asked for.
ASSUMED_FPS = 24.0


def decode_video(path: str, *, max_seconds: Optional[float] = None, max_frames: Optional[int] = None,
                 max_fps: Optional[float] = None, max_short_side: Optional[int] = None,
                 max_long_side: Optional[int] = None, max_raw_bytes: Optional[int] = DEFAULT_MAX_RAW_BYTES,
                 keep_partial: bool = False, sink: Optional[FrameSink] = None) -> DecodedVideo:
    """Decode a video file, within limits when any is given; one pass of ffmpeg does it all.

    * ``max_fps``: the file is read at a constant rate, its own (a guess of at most
      ``ASSUMED_FPS`` when unknown), and every k-th frame is kept where that is higher
      (k = ceil(fps / max_fps)), so processed frame i is exactly source frame i * k;
    * ``max_seconds`` / ``max_frames``: the start of the file is kept;
    * ``max_short_side`` / ``max_long_side``: frames downscaled to fit (even sides, area filter);
    * ``max_raw_bytes``: past this total, frames are kept as quality-95 ``EncodedFrame``
      (compressed as they are decoded; None: never);
    * ``keep_partial``: a file damaged midway gives the frames before the damage
      (``damaged_after``) instead of ``VideoLoadError``;
    * ``sink``: each decoded frame is given to ``sink.append`` (which keeps it its own way,
      e.g. compressed and partly on disk) and ``frames`` is the sink; ``max_raw_bytes`` is
      then the sink's business. Without it, a long clip's frames would all be in RAM at once.
    """
    probe = probe_video(path)
    stride, fps, fps_assumed, read_fps = 1, probe.fps, False, None
    if max_fps is not None:
        if fps <= 0:
            fps, fps_assumed = min(max_fps, ASSUMED_FPS), True
        elif fps > max_fps + 1e-6:
            stride = int(math.ceil(fps / max_fps - 1e-9))
            fps = fps / stride
        read_fps = fps * stride
    caps = [c for c in (max_seconds, (max_frames / fps) if (max_frames and fps > 0) else None) if c is not None]
    trim_s = None
    if caps and probe.seconds > min(caps) + (0.5 / fps if fps > 0 else 0.0):
        trim_s = round(min(caps), 3)
    width, height = fit_within(probe.width, probe.height, max_short_side, max_long_side)
    filters = [f"select=not(mod(n\\,{stride}))"] if stride > 1 else []
    if (width, height) != (probe.width, probe.height):
        filters.append(f"scale={width}:{height}:flags=area")
    frames: Any = sink if sink is not None else []
    first_hw: Optional[Tuple[int, int]] = None
    raw_bytes, compress, capped, damaged = 0, False, False, None
    reader = iter_video_frames(path, read_fps, trim_s, filters,
                               None if max_frames is None else max_frames + 1)
    try:
        for frame in reader:
            if max_frames is not None and len(frames) >= max_frames:
                capped = True
                break
            first_hw = first_hw or (int(frame.shape[0]), int(frame.shape[1]))
            if sink is not None:
                sink.append(frame)
                continue
            raw_bytes += frame.nbytes
            if not compress and max_raw_bytes is not None and raw_bytes > max_raw_bytes:
                compress = True
                frames = [encode_jpeg(f) for f in frames]
            frames.append(encode_jpeg(frame) if compress else frame.copy())
    except VideoLoadError:
        if not (keep_partial and frames):
            raise
        damaged = len(frames) - 1
    finally:
        reader.close()
    if not len(frames) or first_hw is None:
        raise VideoLoadError(f"video file {path} contains no frames")
    h, w = first_hw
    return DecodedVideo(frames, float(fps), w, h, probe, stride, read_fps, trim_s, fps_assumed,
                        capped or trim_s is not None, damaged)


def decode_video_file(path: str, max_raw_bytes: Optional[int] = None) -> Tuple[List[StoredFrame], float]:
    """Decode every frame of a video file as stored; returns (frames, fps).

    Frames are H x W x 3 uint8 arrays while their total stays under ``max_raw_bytes`` (no
    limit when None); past it, every frame is kept as a quality-95 ``EncodedFrame``,
    compressed as it is decoded so that the raw clip is never in memory at once.
    """
    decoded = decode_video(path, max_raw_bytes=max_raw_bytes)
    return decoded.frames, decoded.fps


def count_video_frames(path: str, timeout_s: float = 600.0) -> int:
    """How many frames the file's video stream holds, counted from its packets without
    decoding them (about a second for a long clip). ``VideoLoadError`` if ffmpeg cannot."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path), "-map", "0:v:0",
           "-c", "copy", "-f", "null", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        raise _ffmpeg_error(path, exc) from exc
    counts = re.findall(r"frame=\s*(\d+)", done.stderr)
    if done.returncode != 0 or not counts:
        raise _ffmpeg_error(path, RuntimeError(done.stderr.strip() or f"ffmpeg exit status {done.returncode}"))
    return int(counts[-1])


def has_audio(path: str, timeout_s: float = 60.0) -> bool:
    """Whether the media file ``path`` has an audio stream (ffmpeg's description of it)."""
    import imageio_ffmpeg

    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
                          capture_output=True, text=True, timeout=timeout_s)
    return re.search(r"^\s*Stream #\S+.*: Audio: ", done.stderr, flags=re.MULTILINE) is not None
