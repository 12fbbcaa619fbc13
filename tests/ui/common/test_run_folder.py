"""The server run's folder (``ui.common.run_folder``): earlier runs' leftovers swept at start-up, old
files aged out (kept uploads excepted), the folder removed at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ui.common.run_folder import LEGACY_AGE_S, ROOT_NAME, RunFolder, use_for_gradio


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _touch(path, age_s: float = 0.0) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("x")
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


def test_start_sweeps_runs_of_gone_processes_and_old_legacy_folders(tmp_path):
    root = tmp_path / ROOT_NAME
    dead = _touch(str(root / f"run-{_dead_pid()}-1" / "sessions" / "a.png"))
    alive = _touch(str(root / f"run-{os.getppid()}-1" / "sessions" / "b.png"))  # another live server
    old_legacy = _touch(str(tmp_path / "sam2_app_x" / "c.png"))
    t = time.time() - LEGACY_AGE_S - 60
    os.utime(tmp_path / "sam2_app_x", (t, t))
    young_legacy = _touch(str(tmp_path / "sam2_source_y" / "d.mp4"))
    run = RunFolder(str(tmp_path)).start()
    try:
        assert os.path.isdir(run.path)
        assert not os.path.exists(os.path.dirname(os.path.dirname(dead)))
        assert os.path.exists(alive) and os.path.exists(young_legacy)
        assert not os.path.exists(os.path.dirname(old_legacy))
    finally:
        run.remove()
    assert not os.path.exists(run.path)


def test_old_files_age_out_but_kept_uploads_stay_with_their_session(tmp_path):
    run = RunFolder(str(tmp_path)).start()
    old = _touch(os.path.join(run.sub("sessions"), "s1", "export", "mask.png"), age_s=7200)
    fresh = _touch(os.path.join(run.sub("sessions"), "s2", "frames", "0.jpg"))
    gradio_old = _touch(os.path.join(run.sub("gradio"), "abc", "upload.png"), age_s=7200)
    source = _touch(os.path.join(run.sub("sources"), "source-1", "source.mp4"), age_s=7200)
    frames = _touch(os.path.join(run.sub("clips"), "clip-1", "frames.bin"), age_s=7200)
    spilled = _touch(os.path.join(run.sub("spill"), "session-1-a", "outputs.bin"), age_s=7200)
    assert run.age_out(3600) == 2
    assert not os.path.exists(old) and not os.path.exists(gradio_old)
    assert os.path.exists(fresh) and os.path.exists(source)
    assert os.path.exists(frames) and os.path.exists(spilled)  # they go with their session
    run.remove()


def test_gradio_cache_goes_into_the_run_folder_unless_the_operator_chose_one(tmp_path):
    run = RunFolder(str(tmp_path))
    env = {}
    assert use_for_gradio(run, env) == os.path.join(run.path, "gradio") == env["GRADIO_TEMP_DIR"]
    assert use_for_gradio(run, {"GRADIO_TEMP_DIR": "/elsewhere"}) is None
    run.remove()


def test_session_files_live_in_the_run_folder():
    from ui.common import run_folder
    from ui.common.sessions import SessionFiles

    files = SessionFiles()
    path = files.path("a.png", "export")
    assert path.startswith(os.path.join(run_folder.current().path, "sessions") + os.sep)
    files.cleanup()
    assert files.folder is None
