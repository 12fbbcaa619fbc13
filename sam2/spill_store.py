"""A tracking session's on-disk store for per-frame outputs it no longer needs in RAM.

Why: a session keeps, per object and tracked frame, the mask logits (256 KiB in float32),
the memory (512 KiB in bfloat16 for SAM 2; 64 KiB for EdgeTAM's compressed memory), the
object pointer and the visibility score. Only the last few frames are read while tracking
goes on, so older ones go to disk and come back when something asks for them (a correction
on an old frame, a reverse pass, a re-propagation).

How:
* one folder per session under a spill root (``default_spill_root()``), one append-only
  data file in it; a record is the raw bytes of a few tensors, so reading it back gives the
  very same bits (the contract: results identical to a session that keeps everything);
* records are written by one writer thread, off the tracking loop; a record is readable
  from the moment it is submitted (the caller keeps the object until the write is done);
* the folder is deleted by ``close()`` (the session's ``reset``/``close``/garbage collection)
  and, at start-up, folders left by a process that no longer runs (a crash) are deleted;
* a write that fails (full disk, folder gone) turns the store off: ``error`` says why,
  nothing written so far is lost and the caller keeps in RAM what it could not spill.
"""

from __future__ import annotations

import errno
import os
import queue
import shutil
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch

from sam2.media.spill_paths import default_spill_root, new_session_folder, remove_stale_sessions

__all__ = ["SpillError", "SpillRecord", "SpillStore", "default_spill_root", "remove_stale_sessions"]

_ALIGN = 16  # every tensor of a record starts at a multiple of this (any dtype can view it)
_QUEUE_DEPTH = 64  # records waiting for the writer; the tracking loop waits beyond this


class SpillError(OSError):
    """The spill folder cannot be used (unwritable, full); the message says which and why."""


@dataclass(frozen=True)
class _Field:
    start: int
    nbytes: int
    dtype: torch.dtype
    shape: Tuple[int, ...]


@dataclass(frozen=True)
class _Layout:
    """Where each tensor of a record lies (shared by all records of the same shapes)."""

    fields: Tuple[Optional[_Field], ...]
    nbytes: int


class SpillRecord:
    """One submitted record: readable at once (from ``pending`` until written, then from disk)."""

    __slots__ = ("pending", "offset", "layout")

    def __init__(self, tensors: Tuple[Optional[torch.Tensor], ...], layout: _Layout) -> None:
        self.pending: Optional[Tuple[Optional[torch.Tensor], ...]] = tensors
        self.offset = -1
        self.layout = layout


def _write_at(fd: int, buffers: List[memoryview], offset: int) -> int:
    """Write ``buffers`` at ``offset`` in one call where the OS has ``pwritev`` (Linux, macOS)."""
    if hasattr(os, "pwritev"):
        return os.pwritev(fd, buffers, offset)
    return os.pwrite(fd, b"".join(buffers), offset)


def _read_at(fd: int, buffer: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buffer], offset)
    data = os.pread(fd, len(buffer), offset)
    buffer[: len(data)] = data
    return len(data)


def _layout_of(tensors: Sequence[Optional[torch.Tensor]]) -> _Layout:
    fields: List[Optional[_Field]] = []
    pos = 0
    for t in tensors:
        if t is None:
            fields.append(None)
            continue
        n = t.numel() * t.element_size()
        fields.append(_Field(pos, n, t.dtype, tuple(t.shape)))
        pos += -(-n // _ALIGN) * _ALIGN
    return _Layout(tuple(fields), pos)


class SpillStore:
    """A session's append-only record file with a writer thread (see the module docstring)."""

    @staticmethod
    def supported() -> bool:
        """Whether this OS has positioned reads and writes (Linux, macOS; not Windows)."""
        return hasattr(os, "pread") and hasattr(os, "pwrite")

    def __init__(self, root: Optional[str] = None) -> None:
        self.root = os.path.abspath(root or default_spill_root())
        try:
            self.folder = new_session_folder(self.root)
            self._path = os.path.join(self.folder, "outputs.bin")
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise SpillError(
                exc.errno, f"cannot use the spill folder {self.root} ({exc.strerror or exc}): pass "
                "spill_dir= a writable folder (or set SAM2_SPILL_DIR), or spill=False to keep every "
                "frame's outputs in RAM"
            ) from exc
        self._layouts: dict = {}
        self._end = 0  # next write offset (writer thread only, and reset())
        self.bytes_written = 0  # bytes of records on disk
        self.records_written = 0
        self.error: Optional[SpillError] = None
        self.error_reported = False
        self._queue: "queue.Queue[Optional[SpillRecord]]" = queue.Queue(_QUEUE_DEPTH)
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="sam2-spill-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ writing
    @property
    def usable(self) -> bool:
        return self.error is None and not self._closed

    def submit(self, tensors: Sequence[Optional[torch.Tensor]]) -> Optional[SpillRecord]:
        """Queue tensors for writing; the record is readable at once. None when the store is
        off (an earlier write failed, or closed): the caller keeps the data in RAM."""
        if not self.usable:
            return None
        tensors = tuple(tensors)
        layout = _layout_of(tensors)
        layout = self._layouts.setdefault(layout, layout)  # one shared layout per shape set
        record = SpillRecord(tensors, layout)
        self._queue.put(record)
        return record

    def _write_loop(self) -> None:
        pad = bytes(_ALIGN)
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                if self.error is not None or record.pending is None:
                    continue
                buffers: List[memoryview] = []
                for t, f in zip(record.pending, record.layout.fields):
                    if t is None or f is None:
                        continue
                    flat = t.detach().to("cpu").contiguous().reshape(-1)
                    buffers.append(memoryview(flat.view(torch.uint8).numpy()))
                    if f.nbytes % _ALIGN:
                        buffers.append(memoryview(pad)[: _ALIGN - f.nbytes % _ALIGN])
                try:
                    written = _write_at(self._fd, buffers, self._end) if buffers else 0
                    if written != record.layout.nbytes:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                except Exception as exc:  # noqa: BLE001 - any failure turns the store off, never hangs it
                    if not isinstance(exc, OSError):
                        exc = OSError(errno.EIO, f"{type(exc).__name__}: {exc}")
                    self.error = SpillError(
                        exc.errno, f"could not write to the spill folder {self.folder} ({exc.strerror or exc}); "
                        "the session keeps its outputs in RAM from now on (free disk space or pass another "
                        "spill_dir= for new sessions)"
                    )
                    continue
                record.offset = self._end
                self._end += record.layout.nbytes
                self.bytes_written += record.layout.nbytes
                self.records_written += 1
                record.pending = None  # from now on read from disk; RAM freed
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every submitted record is written (or the store failed)."""
        if self._writer.is_alive():
            self._queue.join()

    # ------------------------------------------------------------------ reading
    def read(self, record: SpillRecord, device: Optional[torch.device] = None) -> Tuple[Optional[torch.Tensor], ...]:
        """The tensors of a record, bit-identical to what was submitted."""
        pending = record.pending
        if pending is not None:
            return pending
        layout = record.layout
        buf = torch.empty(layout.nbytes, dtype=torch.uint8)
        got = _read_at(self._fd, memoryview(buf.numpy()), record.offset)
        if got != layout.nbytes:
            raise SpillError(errno.EIO, f"the spill file {self._path} is shorter than expected (it was changed)")
        out: List[Optional[torch.Tensor]] = []
        for f in layout.fields:
            if f is None:
                out.append(None)
                continue
            t = buf[f.start: f.start + f.nbytes].view(f.dtype).reshape(f.shape)
            out.append(t.to(device) if device is not None and device.type != "cpu" else t)
        return tuple(out)

    # ------------------------------------------------------------------ lifetime
    def reset(self) -> None:
        """Forget every record (the session was reset): the file is emptied."""
        self.flush()
        if not self._closed:
            os.ftruncate(self._fd, 0)
            self._end = 0
            self.bytes_written = 0

    def close(self) -> None:
        """Stop the writer and delete the session folder (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=30)
        try:
            os.close(self._fd)
        except OSError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"SpillStore({self.folder!r}, {self.records_written} records, {self.bytes_written / 2**20:.1f} MiB)"
