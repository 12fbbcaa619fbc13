"""Write MP4 files that browsers play: H.264 (libx264), yuv420p, ``+faststart``.

Why write it ourselves: Gradio only re-encodes videos when system ffmpeg is on PATH and
does not check the pixel format, and many encoders default to yuv444p, which Chromium
refuses. imageio-ffmpeg ships its own ffmpeg binary, so this works without system ffmpeg.
yuv420p needs even width and height: odd sizes are padded by one pixel (edge copy)
instead of letting the encoder resize every frame to a multiple of 16.

Memory: x264's defaults keep many frames in flight (a 40-frame rate-control lookahead, and
one frame per thread, 1.5 threads per core): at 8K that was 6.5 GB. ``LOW_MEMORY_PARAMS``
keep the lookahead short and the threads few; the output is the same format and close
in quality.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, Iterator, Optional, Tuple

import numpy as np

from sam2.media.video import has_audio


def _even_pad(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    ph, pw = h % 2, w % 2
    if ph or pw:
        frame = np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return frame


def _as_rgb(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.ndim == 2:
        f = np.repeat(f[..., None], 3, axis=2)
    if f.ndim != 3 or f.shape[2] not in (3, 4):
        raise ValueError(f"expected H x W x 3 (or 4) frames, got shape {f.shape}")
    if f.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {f.dtype}")
    return np.ascontiguousarray(f[..., :3])


#: Encoder settings that bound the frames x264 holds (see the module doc).
LOW_MEMORY_PARAMS = ("-rc-lookahead", "10", "-threads", "4")


class Mp4Writer:
    """Incremental writer: ``with Mp4Writer(path, fps) as w: w.write(frame)``.

    The frame size is fixed by the first frame; later frames must match it. ``metadata``:
    container tags (``{"comment": "..."}``) written into the file.
    """

    def __init__(self, path: str, fps: float = 24.0, quality: Optional[float] = 23,
                 metadata: Optional[Dict[str, str]] = None) -> None:
        if not fps or fps <= 0 or not np.isfinite(fps):
            raise ValueError(f"fps must be a positive number, got {fps}")
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.crf = quality
        self.metadata = dict(metadata or {})
        self._gen: Optional[Iterator] = None
        self._size: Optional[Tuple[int, int]] = None  # (w, h) before padding
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        f = _as_rgb(frame)
        h, w = f.shape[:2]
        if self._gen is None:
            self._start(w, h)
        elif (w, h) != self._size:
            raise ValueError(f"frame {self.frames_written} is {w}x{h}, expected {self._size[0]}x{self._size[1]}")
        assert self._gen is not None
        self._gen.send(_even_pad(f))
        self.frames_written += 1

    def _start(self, w: int, h: int) -> None:
        import imageio_ffmpeg

        self._size = (w, h)
        size = (w + w % 2, h + h % 2)
        params = ["-movflags", "+faststart", *LOW_MEMORY_PARAMS]
        if self.crf is not None:
            params += ["-crf", str(int(self.crf))]
        for key, value in self.metadata.items():
            params += ["-metadata", f"{key}={' '.join(str(value).split())[:500]}"]
        self._gen = imageio_ffmpeg.write_frames(
            self.path,
            size,
            fps=self.fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            output_params=params,
            ffmpeg_log_level="error",
        )
        self._gen.send(None)  # start ffmpeg

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mux_audio(video_path: str, audio_source: str, out_path: str, seconds: Optional[float] = None,
              timeout_s: float = 600.0) -> bool:
    """Write ``out_path``: the video of ``video_path`` (copied, not re-encoded) with the first
    audio stream of ``audio_source`` (the first ``seconds`` of it; re-encoded to AAC, which
    every browser plays in an MP4). Every video frame is kept (no ``-shortest``: a sound
    track a little shorter than the picture would cut frames off). Returns False, writing
    nothing, when ``audio_source`` has no audio stream; raises ``RuntimeError`` with
    ffmpeg's last line when muxing fails."""
    import subprocess

    import imageio_ffmpeg

    if not has_audio(audio_source):
        return False
    trim = ["-t", f"{seconds:.3f}"] if seconds is not None else []
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", os.fspath(video_path),
           *trim, "-i", os.fspath(audio_source), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
           "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", os.fspath(out_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"could not add the audio: {lines[-1] if lines else 'ffmpeg failed'}")
    return True


def write_mp4(path: str, frames: Iterable[np.ndarray], fps: float = 24.0, quality: Optional[float] = 23) -> str:
    """Write RGB uint8 frames (H x W x 3) to a browser-playable MP4; returns ``path``."""
    writer = Mp4Writer(path, fps=fps, quality=quality)
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.close()
    if writer.frames_written == 0:
        raise ValueError("no frames to write")
    return path
