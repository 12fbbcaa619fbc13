"""Writing into the output folder so that a kill at any moment leaves no half-written file.

Every file is written beside its final name (``.<name>.tmp-<pid>``) and moved into place
with ``os.replace``, which is atomic on a POSIX file system: a reader (or a resumed run)
sees the old file or the new one, never a mix. A failed write (disk full, read-only
folder) removes its temporary file and raises ``OutputError`` naming the folder and the
cause; files written before stay as they were.
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from typing import IO, Iterator, Union


class OutputError(OSError):
    """The output folder cannot be written (full, read-only, not a folder); the message says why."""


def explain(exc: OSError, path: str) -> str:
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
           errno.ENOTDIR: "a path component is a file, not a folder"}.get(exc.errno, exc.strerror or str(exc))
    return f"cannot write {path}: {why}"


@contextmanager
def atomic_open(path: str, mode: str = "w", fsync: bool = False) -> Iterator[IO]:
    """A file object for ``path`` that is moved into place only when the block ends without error."""
    folder = os.path.dirname(path) or "."
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(exc.errno, explain(exc, path)) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write(path: str, data: Union[str, bytes], fsync: bool = False) -> str:
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", fsync=fsync) as f:
        f.write(data)
    return path


def replace_folder(tmp: str, final: str) -> None:
    """Move a finished folder into place (an older one with that name is removed first)."""
    try:
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
        os.replace(tmp, final)
    except OSError as exc:
        raise OutputError(exc.errno, explain(exc, final)) from exc


def _remove_quietly(path: str) -> None:
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except OSError:
        pass


def check_writable(folder: str) -> None:
    """Create ``folder`` and prove a file can be written there; ``OutputError`` otherwise."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(errno.ENOTDIR, f"--out {folder} is a file, not a folder")
    probe = os.path.join(folder, f".write-test-{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"ok")
        os.remove(probe)
    except OSError as exc:
        _remove_quietly(probe)
        raise OutputError(exc.errno, explain(exc, folder)) from exc
