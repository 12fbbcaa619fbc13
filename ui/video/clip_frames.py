"""Where a loaded clip's frames live on the server: bounded RAM, the rest compressed on disk.

Why: the app used to hold every processed frame in RAM (raw, or JPEG past 256 MiB), so the
memory a session needed grew with the clip and long clips could not be allowed. Now:

* frames are kept raw (uint8, the exact decoded pixels) while the whole clip stays within
  ``raw_bytes`` -- a short clip is tracked on exactly the pixels it always was;
* past it, every frame is kept as a quality-95 JPEG (``sam2.media.frame_codec``, the
  library's rule for long clips), in RAM up to ``ram_bytes`` and past that appended to one
  file in a folder of the server's run folder (``ui.common.run_folder``): deleted with the
  clip (``close``), with the session, at exit, and at the next start-up after a crash;
* a frame on disk is read back with one ``pread`` when tracking, a view or an export asks.

``ClipFrames`` is the ``stream`` that ``sam2.media.frame_store.VideoFrames`` reads frames
from, and a plain sequence of stored frames (``clip.frames[i]``) for the rest of the app.
A full disk or an unwritable folder raises ``UserError`` (and deletes what was written): the
upload is refused with the reason, the session keeps its earlier clip.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import threading
import weakref
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np

from sam2.media.frame_codec import EncodedFrame, StoredFrame, encode_jpeg
from ui.common import run_folder
from ui.common.errors import UserError

log = logging.getLogger("sam2.app")

#: Raw frames up to this many bytes per clip (the whole clip), else JPEG quality 95.
RAW_BYTES_BUDGET = 256 * 1024 * 1024
#: Compressed frames kept in RAM per clip; later ones go to the clip's folder on disk.
FRAMES_RAM_BYTES = 64 * 1024 * 1024


class _OnDisk:
    __slots__ = ("offset", "length")

    def __init__(self, offset: int, length: int) -> None:
        self.offset, self.length = offset, length


def disk_message(exc: OSError) -> str:
    """Why frames or tracking data could not be written, for the user (no server path)."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return "the server's disk is full"
    if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the server's temporary folder cannot be written"
    return f"the server's temporary folder cannot be used ({os.strerror(exc.errno) if exc.errno else type(exc).__name__})"


class ClipFrames(Sequence):
    """The stored frames of one clip (see the module); filled once by ``append``, then read."""

    def __init__(self, raw_bytes: Optional[int] = None, ram_bytes: Optional[int] = None,
                 folder_root: Optional[str] = None) -> None:
        """Budgets in bytes (None: this module's ``RAW_BYTES_BUDGET`` / ``FRAMES_RAM_BYTES``);
        ``folder_root``: where the clip's folder is made (None: the run folder's ``clips/``)."""
        self.raw_bytes = int(RAW_BYTES_BUDGET if raw_bytes is None else raw_bytes)
        self.ram_bytes = int(FRAMES_RAM_BYTES if ram_bytes is None else ram_bytes)
        self._root = folder_root
        self._frames: List[Union[StoredFrame, _OnDisk]] = []
        self.compressed = False
        self.ram_stored_bytes = 0
        self.disk_bytes = 0
        self._folder: Optional[str] = None
        self._fd: Optional[int] = None
        self._lock = threading.Lock()
        self._closed = False
        self._finalizer: Optional[weakref.finalize] = None

    # ------------------------------------------------------------------ filling
    def append(self, frame: np.ndarray) -> None:
        """Keep one more decoded frame (copied or compressed: the decoder reuses its buffer)."""
        if not self.compressed and self.ram_stored_bytes + frame.nbytes > self.raw_bytes:
            self._compress_all()
        if not self.compressed:
            self._frames.append(frame.copy())
            self.ram_stored_bytes += frame.nbytes
            return
        self._frames.append(self._keep(encode_jpeg(frame)))

    def _compress_all(self) -> None:
        """Past the raw budget: the frames so far become JPEG like the ones to come, so that
        every frame of the clip is kept the same way."""
        self.compressed = True
        raw, self._frames, self.ram_stored_bytes = self._frames, [], 0
        for f in raw:
            self._frames.append(self._keep(encode_jpeg(f)))  # type: ignore[arg-type]

    def _keep(self, enc: EncodedFrame) -> Union[EncodedFrame, _OnDisk]:
        if self.ram_stored_bytes + len(enc.data) <= self.ram_bytes:
            self.ram_stored_bytes += len(enc.data)
            return enc
        try:
            if self._fd is None:
                self._open_file()
            assert self._fd is not None
            written = os.pwrite(self._fd, enc.data, self.disk_bytes)
            if written != len(enc.data):
                raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            self.close()
            raise UserError(f"The clip is too long to keep on this server: {disk_message(exc)} "
                            f"(after {len(self._frames)} frames). Try a shorter clip.") from None
        entry = _OnDisk(self.disk_bytes, written)
        self.disk_bytes += written
        return entry

    def _open_file(self) -> None:
        if self._root is None:
            self._root = run_folder.current().sub("clips")
        os.makedirs(self._root, exist_ok=True)
        self._folder = tempfile.mkdtemp(prefix="clip-", dir=self._root)
        self._fd = os.open(os.path.join(self._folder, "frames.bin"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        # a clip dropped without close() (a session swept while an export still read it)
        # gives its folder back when it is garbage collected
        self._finalizer = weakref.finalize(self, _remove, self._fd, self._folder)

    # ------------------------------------------------------------------ reading
    @property
    def num_frames(self) -> int:  # the ``stream`` interface of VideoFrames
        return len(self._frames)

    @property
    def folder(self) -> Optional[str]:
        return self._folder

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> StoredFrame:
        """Frame ``index`` as stored (uint8 array or ``EncodedFrame``)."""
        stored = self._frames[index]
        if isinstance(stored, _OnDisk):
            with self._lock:
                if self._fd is None:
                    raise UserError("This clip was closed; load it again.")
                data = os.pread(self._fd, stored.length, stored.offset)
            return EncodedFrame(data, "jpeg")
        return stored

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.get(i) for i in range(*index.indices(len(self)))]
        return self.get(index)

    def __iter__(self) -> Iterator[StoredFrame]:
        for i in range(len(self)):
            yield self.get(i)

    def view(self) -> "ClipFramesView":
        """The same frames for a ``VideoFrames`` that must not close them (the clip's owner does)."""
        return ClipFramesView(self)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Forget the frames and delete the folder (idempotent)."""
        with self._lock:
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()
            self._fd = None
            self._folder = None


def _remove(fd: int, folder: str) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


class ClipFramesView:
    """``ClipFrames`` for ``VideoFrames(stream=...)``: reads them, never closes them."""

    def __init__(self, frames: ClipFrames) -> None:
        self._frames = frames

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> StoredFrame:
        return self._frames.get(index)

    def close(self) -> None:
        pass
