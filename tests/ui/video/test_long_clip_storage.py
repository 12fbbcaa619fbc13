"""Long clips on the server: frames in bounded RAM with the rest on disk in the run folder,
tracking data spilled under the run folder, and a disk that fails gives a clear message while
the session stays usable (issue #25, the app)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sam2.media.frame_codec import EncodedFrame
from ui.common.errors import UserError
from ui.video import clip_frames
from ui.video.clip_frames import ClipFrames
from ui.video.media import decode_clip

from tests.support.media import pattern_clip
from tests.support.video_fakes import LIMITS, TINY, fake_controller, run_track


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """20 frames of 160x120 at 10 fps."""
    return pattern_clip(tmp_path_factory.mktemp("clips"), fps=10, seconds=2)


def _frames(n: int, h: int = 48, w: int = 64):
    """Smooth moving gradients (what JPEG keeps well), each frame different."""
    yy, xx = np.mgrid[:h, :w]
    return [np.stack([(xx * 4 + i) % 256, (yy * 5) % 256, ((xx + yy) * 2 + 3 * i) % 256], -1).astype(np.uint8)
            for i in range(n)]


def test_frames_stay_raw_within_the_budget_and_exact():
    frames = _frames(5)
    store = ClipFrames(raw_bytes=10 * frames[0].nbytes, ram_bytes=1 << 20)
    for f in frames:
        store.append(f)
    assert not store.compressed and store.folder is None and len(store) == 5
    for i, f in enumerate(frames):
        assert np.array_equal(store[i], f)


def test_past_the_budgets_frames_are_jpeg_then_on_disk_and_closing_deletes_them(tmp_path):
    frames = _frames(40)
    store = ClipFrames(raw_bytes=3 * frames[0].nbytes, ram_bytes=3 * 4096, folder_root=str(tmp_path))
    for f in frames:
        store.append(f)
    assert store.compressed and store.ram_stored_bytes <= 3 * 4096
    assert store.disk_bytes > 0 and store.folder is not None and store.folder.startswith(str(tmp_path))
    assert os.path.getsize(os.path.join(store.folder, "frames.bin")) == store.disk_bytes
    # the first frames (kept raw at first) were re-encoded like the rest: one form per clip
    assert all(isinstance(store[i], EncodedFrame) for i in (0, 1, 39))
    for i in (0, 20, 39):  # quality 95: close, not equal
        err = np.abs(store[i].decode().astype(int) - frames[i].astype(int)).mean()
        assert err < 4, (i, err)
    folder = store.folder
    store.close()
    assert not os.path.exists(folder)
    with pytest.raises(UserError, match="closed"):
        store.get(39)


def test_an_unwritable_folder_refuses_the_clip_with_a_reason_and_no_server_path(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    store = ClipFrames(raw_bytes=1, ram_bytes=1, folder_root=str(blocker / "clips"))
    with pytest.raises(UserError) as info:
        for f in _frames(3):
            store.append(f)
    msg = str(info.value)
    assert "too long to keep on this server" in msg and "Try a shorter clip" in msg
    assert str(tmp_path) not in msg and "/" not in msg.replace("N/A", "")


def test_decode_clip_puts_frames_past_the_ram_budget_on_disk(clip_path, tmp_path):
    small = decode_clip(clip_path, LIMITS, folder_root=str(tmp_path))
    assert small.frames.folder is None and not small.frames.compressed  # 20 small frames: raw, in RAM
    clip = decode_clip(clip_path, LIMITS, raw_bytes_budget=1, frames_ram_bytes=20_000, folder_root=str(tmp_path))
    assert clip.num_frames == small.num_frames == 20
    assert clip.frames.disk_bytes > 0 and clip.frames.ram_stored_bytes <= 20_000
    for i in (0, 10, 19):
        err = np.abs(clip.frames[i].decode().astype(int) - small.frames[i].astype(int)).mean()
        assert err < 8, (i, err)  # testsrc: sharp edges and text
    folder = clip.frames.folder
    clip.frames.close()
    assert not os.path.exists(folder)


def test_the_session_keeps_frames_and_tracking_data_in_the_run_folder_and_deletes_them(clip_path, monkeypatch,
                                                                                        tmp_path):
    from ui.common import run_folder

    run = run_folder.RunFolder(str(tmp_path)).start()
    monkeypatch.setattr(run_folder, "_current", run)
    monkeypatch.setattr(clip_frames, "RAW_BYTES_BUDGET", 1)
    monkeypatch.setattr(clip_frames, "FRAMES_RAM_BYTES", 10_000)
    c, preds = fake_controller()
    c.load("s", clip_path)
    slot = c.sessions.get("s").state
    folder = slot.clip.frames.folder
    assert folder is not None and folder.startswith(os.path.join(run.path, "clips")) and os.listdir(folder)
    c.add_point("s", 2, 40, 60, True, 1)
    assert preds[TINY].init_calls == [(True, os.path.join(run.path, "spill"))]
    views = run_track(c, "s", "forward", 2)
    assert "Tracked 18 frames" in views[-1].status
    # the frames on disk serve tracking, views and exports like frames in RAM
    assert slot.frames.frame(15).shape == (LIMITS.max_short_side, 160, 3)
    # a new clip deletes the old one's frames; closing the session deletes the new one's
    c.load("s", clip_path)
    assert not os.path.exists(folder)
    folder = slot.clip.frames.folder
    assert os.path.exists(folder)
    c.drop("s")
    assert not os.path.exists(folder)


def test_an_unusable_spill_folder_is_said_and_tracking_goes_on_in_ram(clip_path):
    c, preds = fake_controller()
    preds[TINY].spill_init_error = PermissionError(13, "Permission denied", "/srv/secret/spill")
    c.load("s", clip_path)
    view = c.add_point("s", 0, 40, 60, True, 1)
    assert preds[TINY].init_calls[-1] == (False, None)
    assert "cannot be written" in view.status and "keeps it in memory" in view.status
    assert "/srv/secret" not in view.status
    views = run_track(c, "s", "forward", 0)
    assert "Tracked 20 frames" in views[-1].status and "keeps it in memory" in views[-1].status
    assert c.sessions.get("s").state.state.masks.frames() == list(range(20))


def test_a_disk_that_fills_up_while_tracking_is_said_and_every_frame_is_tracked_once(clip_path):
    c, preds = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 0, 40, 60, True, 1)
    preds[TINY].spill_fail_at = 7
    job_views = run_track(c, "s", "forward", 0)
    status = job_views[-1].status
    assert "Tracked 20 frames" in status, status
    assert "disk is full" in status and "Your work is kept" in status and "/srv/secret" not in status
    slot = c.sessions.get("s").state
    assert slot.state.masks.frames() == list(range(20))
    assert slot.run is not None and len(slot.run.frames) == 20
