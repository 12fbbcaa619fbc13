"""A video file's frames decoded as tracking needs them, never the whole clip up front.

``StreamedVideoFile`` counts the file's frames from its packets (no decoding: a second for a
long clip) and then decodes them in order on a background thread, at most ``read_ahead``
frames beyond the furthest frame asked for, so that decoding overlaps tracking and RAM does
not fill with frames nobody asked for yet. Each decoded frame is kept in the form the whole
clip would have had when decoded up front (``decode_video_file``): uint8 RGB when the clip's
raw size is within ``max_raw_bytes``, else JPEG quality 95. Compressed frames stay in RAM up
to ``ram_bytes``, and past it go to a file in a session folder under the spill root (deleted
with the frames, or at the next start-up after a crash).
"""

from __future__ import annotations

import os
import shutil
import threading
from typing import Iterator, List, Optional, Union

import numpy as np

from sam2.media.frame_codec import EncodedFrame, StoredFrame, VideoLoadError, encode_jpeg
from sam2.media.video_decode import iter_video_frames
from sam2.media.spill_paths import new_session_folder

__all__ = ["StreamedVideoFile", "DEFAULT_FRAMES_RAM_BYTES", "DEFAULT_READ_AHEAD"]

DEFAULT_FRAMES_RAM_BYTES = 256 << 20  # compressed frames kept in RAM before going to disk
DEFAULT_READ_AHEAD = 32

class _OnDisk:
    """Where a compressed frame lies in the frame file."""

    __slots__ = ("offset", "length")

    def __init__(self, offset: int, length: int) -> None:
        self.offset, self.length = offset, length


class StreamedVideoFile:
    """The stored frames of one video file, decoded in order on demand (see the module)."""

    def __init__(self, path: str, num_frames: int, width: int, height: int, compress: bool,
                 ram_bytes: Optional[int] = DEFAULT_FRAMES_RAM_BYTES, read_ahead: int = DEFAULT_READ_AHEAD,
                 spill_dir: Optional[str] = None, owned_folder: Optional[str] = None) -> None:
        if num_frames <= 0:
            raise VideoLoadError(f"video file {path} contains no frames")
        self.path = path
        self.num_frames = num_frames
        self.width, self.height = width, height
        self.compress = compress
        self.ram_bytes = ram_bytes
        self.read_ahead = max(1, int(read_ahead))
        self.spill_dir = spill_dir
        self._owned_folder = owned_folder  # e.g. the temporary copy of a video given as bytes
        self._frames: List[Union[StoredFrame, _OnDisk]] = []
        self._wanted = 0
        self._done = False
        self._closed = False
        self._error: Optional[VideoLoadError] = None
        self._cond = threading.Condition()
        self._disk_folder: Optional[str] = None
        self._disk_fd: Optional[int] = None
        self._disk_end = 0
        self.ram_stored_bytes = 0
        self._thread = threading.Thread(target=self._decode_loop, name="sam2-video-decoder", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ reading
    @property
    def disk_bytes(self) -> int:
        return self._disk_end

    @property
    def decoded(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> StoredFrame:
        """Frame ``index`` in its stored form, waiting for the decoder to reach it."""
        with self._cond:
            if index >= self._wanted:
                self._wanted = index + 1
                self._cond.notify_all()
            while index >= len(self._frames) and not self._done and not self._closed:
                self._cond.wait()
            if index < len(self._frames):
                stored = self._frames[index]
            elif self._error is not None:
                raise VideoLoadError(f"{self._error} (at frame {len(self._frames)})") from self._error.__cause__
            elif self._closed:
                raise VideoLoadError(f"the video {self.path} was closed")
            else:
                raise VideoLoadError(
                    f"video file {self.path} ended after {len(self._frames)} frames although its container "
                    f"lists {self.num_frames}: frame {index} cannot be read"
                )
        if isinstance(stored, _OnDisk):
            return EncodedFrame(os.pread(self._disk_fd, stored.length, stored.offset), "jpeg")  # type: ignore[arg-type]
        return stored

    # ------------------------------------------------------------------ decoding
    def _decode_loop(self) -> None:
        reader: Optional[Iterator[np.ndarray]] = None
        try:
            reader = iter_video_frames(self.path, max_frames=self.num_frames)
            for frame in reader:
                if frame.shape[:2] != (self.height, self.width):
                    raise VideoLoadError(f"video file {self.path} changes picture size at frame {len(self._frames)}")
                stored = self._store(encode_jpeg(frame) if self.compress else frame.copy())
                with self._cond:
                    self._frames.append(stored)
                    self._cond.notify_all()
                    while not self._closed and len(self._frames) >= self._wanted + self.read_ahead:
                        self._cond.wait()
                    if self._closed:
                        return
        except VideoLoadError as exc:
            self._error = exc
        except OSError as exc:
            self._error = VideoLoadError(f"cannot keep the frames of {self.path} on disk: {exc}")
        finally:
            if reader is not None:
                reader.close()  # type: ignore[attr-defined]
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _store(self, stored: StoredFrame) -> Union[StoredFrame, _OnDisk]:
        if not isinstance(stored, EncodedFrame) or self.ram_bytes is None \
                or self.ram_stored_bytes + len(stored.data) <= self.ram_bytes:
            self.ram_stored_bytes += len(stored.data) if isinstance(stored, EncodedFrame) else stored.nbytes
            return stored
        if self._disk_fd is None:
            self._disk_folder = new_session_folder(self.spill_dir)
            self._disk_fd = os.open(os.path.join(self._disk_folder, "frames.bin"),
                                    os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        written = os.pwrite(self._disk_fd, stored.data, self._disk_end)
        if written != len(stored.data):
            raise OSError(28, "No space left on device")
        entry = _OnDisk(self._disk_end, written)
        self._disk_end += written
        return entry

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop decoding and delete what is on disk (idempotent)."""
        with self._cond:
            self._closed = True
            self._frames = []
            self.ram_stored_bytes = 0
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        if self._disk_fd is not None:
            try:
                os.close(self._disk_fd)
            except OSError:
                pass
            self._disk_fd = None
        for folder in (self._disk_folder, self._owned_folder):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
