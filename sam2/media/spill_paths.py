"""Where sessions put what they move out of RAM, and cleaning up after a crash.

Every session that writes to disk (tracked outputs, compressed video frames) uses its own
folder ``session-<pid>-<id>`` under one spill root (``$SAM2_SPILL_DIR``, else
``<temp dir>/sam2-spill``) and deletes it when it ends. A process that crashed cannot, so
the first session of a process deletes the folders of processes that no longer run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from typing import Optional

__all__ = ["SPILL_DIR_ENV", "default_spill_root", "new_session_folder", "remove_stale_sessions"]

#: Environment variable naming the spill root.
SPILL_DIR_ENV = "SAM2_SPILL_DIR"

_cleaned_roots: set = set()
_cleaned_lock = threading.Lock()


def default_spill_root() -> str:
    return os.environ.get(SPILL_DIR_ENV) or os.path.join(tempfile.gettempdir(), "sam2-spill")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_sessions(root: str) -> int:
    """Delete session folders under ``root`` whose process no longer runs (left by a crash);
    returns how many. Other names are left alone."""
    removed = 0
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    for name in names:
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "session" or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        removed += 1
    return removed


def new_session_folder(root: Optional[str] = None) -> str:
    """Create (and return) a new session folder under ``root`` (default spill root); the
    first call per root and process removes crash leftovers. ``OSError`` if it cannot."""
    root = os.path.abspath(root or default_spill_root())
    with _cleaned_lock:
        if root not in _cleaned_roots:
            remove_stale_sessions(root)
            _cleaned_roots.add(root)
    folder = os.path.join(root, f"session-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    os.makedirs(folder, exist_ok=False)
    return folder
