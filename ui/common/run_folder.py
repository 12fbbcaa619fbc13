"""One folder per server run for everything the app writes, swept at start-up, at exit and by age.

Why: sessions' downloads, rendered frames and kept uploads used to go to separate
``mkdtemp`` folders in the system's temporary directory. Those of a server that was stopped
(or killed) stayed there for good, and files of a long-lived session outlived Gradio's cache
age. Now everything lives under ``<tmp>/sam2-studio/run-<pid>-<start time>/``:

* ``sessions/``: each session's folder (``ui.common.sessions.SessionFiles``): downloads, previews,
  the canvas's frame pictures; ``sources/``: uploads kept for full-size exports
  (``ui.video.media.KeptFile``); ``clips/`` and ``spill/``: long clips' frames and the
  tracker's data on disk (issue #25); ``gradio/``: Gradio's own cache (uploads, returned files),
  when ``app.py`` starts the server (it sets ``GRADIO_TEMP_DIR`` unless the operator did);
* at start-up, run folders of processes that are gone are deleted (and the pre-run-folder
  ``sam2_app_*`` / ``sam2_source_*`` folders older than a day);
* at exit (``atexit``; ``app.py`` turns SIGTERM into a normal exit), the run folder is deleted;
* while running, files older than the cache age are deleted (``start_sweeper``), like
  Gradio's ``delete_cache`` does for its own files; kept uploads, clips' frames and spilled
  tracking data go with their session instead (``KEEP_WITH_SESSION``).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from typing import Iterable, List, Optional

log = logging.getLogger("sam2.app")

ROOT_NAME = "sam2-studio"
#: Folders of app versions before run folders, removed at start-up once this old (seconds).
LEGACY_PREFIXES = ("sam2_app_", "sam2_source_")
LEGACY_AGE_S = 24 * 3600.0
_RUN = re.compile(r"^run-(\d+)-\d+$")
#: Subfolders whose files live as long as their session, not by age: kept uploads, a long
#: clip's frames on disk (``ui.video.clip_frames``), the tracker's spilled outputs. A session
#: working on one clip for longer than the cache age must not lose them.
KEEP_WITH_SESSION = ("sources", "clips", "spill")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive
    return True


class RunFolder:
    """The folder of this server run (``path``) under ``<base>/sam2-studio``."""

    def __init__(self, base: Optional[str] = None) -> None:
        self.base = base or tempfile.gettempdir()
        self.root = os.path.join(self.base, ROOT_NAME)
        self.path = os.path.join(self.root, f"run-{os.getpid()}-{int(time.time() * 1000)}")
        self._started = False
        self._sweeper: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def start(self) -> "RunFolder":
        """Sweep what stopped runs left, make this run's folder, remove it at exit."""
        if not self._started:
            self._started = True
            swept = self.sweep_stale()
            if swept:
                log.info("removed %d temporary folder(s) of earlier runs", swept)
            os.makedirs(self.path, exist_ok=True)
            atexit.register(self.remove)
        return self

    def sub(self, name: str) -> str:
        """``path/name``, made if missing."""
        self.start()
        folder = os.path.join(self.path, name)
        os.makedirs(folder, exist_ok=True)
        return folder

    def sweep_stale(self) -> int:
        """Delete run folders of processes that are gone, and old pre-run-folder folders."""
        gone = 0
        try:
            names = os.listdir(self.root)
        except OSError:
            names = []
        for name in names:
            match = _RUN.match(name)
            folder = os.path.join(self.root, name)
            if match and folder != self.path and not _alive(int(match.group(1))):
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        now = time.time()
        try:
            legacy = [n for n in os.listdir(self.base) if n.startswith(LEGACY_PREFIXES)]
        except OSError:
            legacy = []
        for name in legacy:
            folder = os.path.join(self.base, name)
            try:
                old = now - os.path.getmtime(folder) > LEGACY_AGE_S
            except OSError:
                continue
            if old and os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone

    def age_out(self, max_age_s: float, keep: Iterable[str] = KEEP_WITH_SESSION) -> int:
        """Delete files older than ``max_age_s`` (by modification time) under this run's
        folder, except in the ``keep`` subfolders; empty folders left behind go too.
        Returns how many files were deleted."""
        cutoff = time.time() - max_age_s
        kept = {os.path.join(self.path, k) for k in keep}
        deleted = 0
        for top, dirs, files in os.walk(self.path, topdown=False):
            if any(top == k or top.startswith(k + os.sep) for k in kept):
                continue
            for name in files:
                path = os.path.join(top, name)
                try:
                    if os.path.getmtime(path) < cutoff:
                        os.remove(path)
                        deleted += 1
                except OSError:
                    pass
            if top != self.path and top not in kept:
                try:
                    if not os.listdir(top) and os.path.getmtime(top) < cutoff:
                        os.rmdir(top)
                except OSError:
                    pass
        return deleted

    def start_sweeper(self, max_age_s: float, every_s: float) -> None:
        """``age_out(max_age_s)`` every ``every_s`` seconds in a daemon thread (idempotent)."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.age_out(max_age_s)
                except Exception:  # noqa: BLE001 - the sweeper must keep running
                    log.exception("sweeping old temporary files failed")

        self._sweeper = threading.Thread(target=loop, name="run-folder-sweeper", daemon=True)
        self._sweeper.start()

    def remove(self) -> None:
        self._stop.set()
        shutil.rmtree(self.path, ignore_errors=True)


_current: Optional[RunFolder] = None
_lock = threading.Lock()


def current() -> RunFolder:
    """This process's run folder (made and swept on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = RunFolder().start()
        return _current


def use_for_gradio(run: RunFolder, env: Optional[dict] = None) -> Optional[str]:
    """Point Gradio's cache (``GRADIO_TEMP_DIR``) into the run folder, unless the operator set
    it; returns the folder used (None: the operator's choice stands)."""
    env = os.environ if env is None else env
    if env.get("GRADIO_TEMP_DIR"):
        return None
    folder = run.sub("gradio")
    env["GRADIO_TEMP_DIR"] = folder
    return folder


def folders(run: RunFolder) -> List[str]:
    """The run folder's subfolders (for logs and tests)."""
    try:
        return sorted(os.listdir(run.path))
    except OSError:
        return []
