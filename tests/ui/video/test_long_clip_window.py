"""The page holds a window of a clip, not the clip: what the server sends with a clip, for a
window the page asks for, and after a change that touches every frame (issue #25, the app).
The browser's side is tests/browser/test_long_video.py."""

from __future__ import annotations

import os

import pytest

from ui.video import view
from ui.video.view import MAX_WINDOW_FRAMES

from tests.support.media import pattern_clip
from tests.support.video_fakes import fake_controller, run_track


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """30 frames of 160x120 at 10 fps."""
    return pattern_clip(tmp_path_factory.mktemp("clips"), fps=10, seconds=3)


@pytest.fixture()
def small_window(monkeypatch):
    monkeypatch.setattr(view, "WINDOW_BEHIND", 2)
    monkeypatch.setattr(view, "WINDOW_AHEAD", 4)


def _frame_files(c, sid):
    folder = os.path.dirname(c.sessions.get(sid).state.files.path("x", "frames"))
    return sorted(n for n in os.listdir(folder) if n.endswith(".jpg") and ".part" not in n)


def test_a_clip_is_sent_as_a_count_and_the_window_around_its_frame(clip_path, small_window):
    c, _ = fake_controller()
    c.load("s", clip_path)
    msg = c.canvas("s", clip=True).to_value()
    assert msg["video"]["count"] == 30 and msg["video"]["frames"] == []
    assert sorted(int(k) for k in msg["frames"]) == [0, 1, 2, 3, 4] and msg["window"] == [0, 5]
    assert all(v["path"].endswith(f"{int(k):05d}.jpg") for k, v in msg["frames"].items())
    assert msg["clip_key"] == c.sessions.get("s").state.clip_version
    # the frame pictures are written as the page asks for them, not the whole clip at upload
    assert _frame_files(c, "s") == [f"{i:05d}.jpg" for i in range(5)]


def test_the_page_gets_the_frames_and_masks_it_asks_for_and_the_timeline_every_tracked_frame(clip_path,
                                                                                           small_window):
    c, _ = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 0, 40, 60, True, 1)
    run_track(c, "s", "forward", 0)
    key = c.sessions.get("s").state.clip_version
    msg = c.window("s", 20, 24, key).to_value()
    assert sorted(int(k) for k in msg["frames"]) == [20, 21, 22, 23] and msg["window"] == [20, 24]
    assert sorted(int(k) for k in msg["masks"]) == [20, 21, 22, 23]
    assert all(u["1"].startswith("data:image/png") for u in msg["masks"].values())
    assert "00021.jpg" in _frame_files(c, "s") and "00012.jpg" not in _frame_files(c, "s")
    # a page that asked before a new clip came gets nothing (its frames are of the old clip)
    assert c.window("s", 20, 24, key - 1).to_value().get("frames") is None
    # a request is bounded
    c2, _ = fake_controller()
    c2.load("t", clip_path)
    big = c2.window("t", 0, 10_000).to_value()
    assert big["window"] == [0, min(30, MAX_WINDOW_FRAMES)]
    # after a change that may touch any frame: coverage for the timeline, masks of the window only
    whole = c.canvas("s", "all", frame=12).to_value()
    assert whole["coverage"] == {"1": [[0, 30]]} and whole["window"] == [10, 17]
    assert sorted(int(k) for k in whole["masks"]) == sorted(set(range(10, 17)) | {c.frame_shown("s")})
    assert "0" in whole["prompts"]  # every prompt travels (a few bytes each)


def test_a_window_reply_marks_objects_with_no_mask_there(clip_path, small_window):
    c, _ = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 5, 40, 60, True, 1)
    msg = c.window("s", 0, 8).to_value()
    assert msg["masks"]["5"]["1"].startswith("data:") and msg["masks"]["0"] == {"1": None}
    assert c.canvas("s", clip=True).to_value()["coverage"] == {"1": [[5, 6]]}
