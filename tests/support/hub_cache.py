"""Run the real app in a child process, the way a user starts it, for end-to-end tests.

``AppProcess`` starts ``python app.py --port N ...`` with a chosen environment (for tests:
a Hugging Face cache holding random weights and ``HF_HUB_OFFLINE=1``), waits until the
server answers, and stops it again. The child's output goes to a log file, shown when
startup fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hf_cache_env(cache_dir: str, model_id: str = "facebook/sam2.1-hiera-tiny", seed: int = 0) -> Dict[str, str]:
    """Environment of a user whose Hugging Face cache holds ``model_id`` (random weights), offline."""
    from sam2.testing import populate_hf_cache

    hub = os.path.join(cache_dir, "hub")
    populate_hf_cache(hub, model_id, seed=seed)
    return {"HF_HOME": cache_dir, "HF_HUB_CACHE": hub, "HF_HUB_OFFLINE": "1"}


class AppProcess:
    """``with AppProcess(["--no-video"], env) as app: Client(app.url)``."""

    def __init__(self, args: List[str] = (), env: Optional[Dict[str, str]] = None,
                 startup_timeout_s: float = 180.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.args = list(args)
        # The app makes its own run folder and points Gradio's cache into it; a
        # GRADIO_TEMP_DIR inherited from this process (set by an in-process ``app.main``)
        # would put its files under this process's run folder and its sweeper instead.
        self.env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
        self.env.update(env or {})
        self.env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.startup_timeout_s = startup_timeout_s
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = tempfile.mktemp(prefix="sam2_app_", suffix=".log")

    def start(self) -> "AppProcess":
        cmd = [sys.executable, os.path.join(REPO_ROOT, "app.py"), "--port", str(self.port), *self.args]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with code {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app did not answer within {self.startup_timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()[-8000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own child's process group only
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> "AppProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
