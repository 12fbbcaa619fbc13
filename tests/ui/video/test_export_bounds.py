"""Video exports in bounds: downscaled to the 4K pixel count (with a note in the status and the
files' metadata), stopped by Cancel within a frame, and stopped before a closed session's
files are removed (no FileNotFoundError, no partial files)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import ui.video.export_run as export_run
from ui.video.controller import VideoController
from ui.video.export_run import ExportCancelled, export_size
from ui.video.media import VideoLimits

TINY = "facebook/sam2.1-hiera-tiny"
LIMITS = VideoLimits(max_seconds=5, max_frames=40, max_fps=20, max_short_side=64, max_long_side=96)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    """1 s of 192x128 at 20 fps."""
    path = str(tmp_path_factory.mktemp("clips") / "big.mp4")
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=192x128:rate=20", "-t", "1",
                    "-pix_fmt", "yuv420p", path], check=True, timeout=60)
    return path


def _engine():
    registry = SimpleNamespace(default_model=TINY, device="cpu", resolve=lambda name: TINY,
                               require_available=lambda name: TINY)
    return SimpleNamespace(device="cpu", default_model=TINY, registry=registry, resolve=lambda name: TINY,
                           require_available=lambda name: TINY)


def _session_with_masks(clip: str, sid: str = "s") -> VideoController:
    """A loaded clip (processed at 96x64, 10 frames) with one object masked on every frame."""
    c = VideoController(_engine(), LIMITS)
    c.load(sid, clip)

    def act(slot):
        obj = slot.state.new_object("thing")
        for f in range(slot.state.num_frames):
            m = np.zeros((slot.state.height, slot.state.width), bool)
            m[10:40, 20 + f:50 + f] = True
            slot.state.masks.put(f, obj.obj_id, m)

    c.sessions.run(sid, act)
    return c


def test_export_size_keeps_the_aspect_within_the_pixel_count():
    assert export_size(3840, 2160) == (3840, 2160)
    assert export_size(7680, 4320) == (3840, 2160)
    w, h = export_size(4096, 4096)
    assert w * h <= 3840 * 2160 and w == h and w % 2 == 0
    assert export_size(1001, 11, max_pixels=1000) == (300, 2)


def test_a_too_large_upload_is_exported_downscaled_with_a_note(clip, monkeypatch):
    monkeypatch.setattr(export_run, "MAX_EXPORT_PIXELS", 96 * 64)  # 192x128 is 4x that
    c = _session_with_masks(clip)
    paths, status = c.export("s")
    assert "96×64, 20 fps, 20 frames" in status and "the upload is 192×128; the files are 96×64" in status
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(paths[0])
    assert next(reader)["size"] == (96, 64) and sum(1 for _ in reader) == 20
    with open(paths[2]) as f:
        info = json.load(f)["info"]
    assert (info["width"], info["height"]) == (96, 64) and "192×128" in info["processed"]["downscaled"]
    assert (info["source_width"], info["source_height"]) == (192, 128)
    probe = subprocess.run([_ffmpeg(), "-hide_banner", "-i", paths[0]], capture_output=True, text=True)
    assert "the files are 96×64" in probe.stderr  # the MP4's comment tag


def _slow_progress(started: threading.Event, delay: float = 0.05):
    def progress(fraction, text):
        started.set()
        time.sleep(delay)

    return progress


def _export_running(clip, monkeypatch):
    """A session with masks whose export (slowed a frame at a time) has started on a thread:
    (controller, thread, outcome dict that gets "result" or "error")."""
    c = _session_with_masks(clip)
    monkeypatch.setattr(export_run, "_write", _slowed(export_run._write))
    started, outcome = threading.Event(), {}

    def run():
        try:
            outcome["result"] = c.export("s", progress=_slow_progress(started))
        except Exception as exc:  # noqa: BLE001 - inspected by the tests
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(30)
    return c, worker, outcome


def test_cancel_stops_an_export_within_a_frame_and_leaves_no_files(clip, monkeypatch):
    c, worker, outcome = _export_running(clip, monkeypatch)
    t0 = time.perf_counter()
    view = c.cancel("s")
    worker.join(30)
    assert not worker.is_alive() and time.perf_counter() - t0 < 5
    assert isinstance(outcome.get("error"), ExportCancelled), outcome
    assert "Cancelled the export" in view.status
    folder = c.sessions.get("s").state.files.folder
    assert not os.listdir(os.path.join(folder, "export"))
    paths, status = c.export("s")  # the next export is not stopped by the old Cancel
    assert "files ready" in status and all(os.path.exists(p) for p in paths)


def _slowed(write):
    """``_write`` whose frames arrive slowly (an export of a long clip)."""

    def slow(clip, frames, *args, **kwargs):
        def trickle():
            for frame in frames:
                time.sleep(0.1)
                yield frame

        return write(clip, trickle(), *args, **kwargs)

    return slow


def test_a_closed_session_stops_its_export_before_removing_its_files(clip, monkeypatch, caplog):
    c, worker, outcome = _export_running(clip, monkeypatch)
    folder = c.sessions.get("s").state.files.folder  # made by the export (frame pictures are written when asked for)
    assert folder is not None and os.path.isdir(folder)
    c.drop("s")  # the API client closed: the export stops first, then the folder goes
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), ExportCancelled), outcome
    assert not os.path.exists(folder) and "s" not in c.sessions
    assert "Traceback" not in caplog.text
