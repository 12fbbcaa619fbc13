"""Video-tab behaviour (``VideoController``) with a stand-in predictor: fast and exact.

``FakePredictor`` has the slice of the ``SAM2VideoPredictor`` API the tab uses and
answers with simple geometric masks (a disc per foreground click, a filled box), so the
tests can check which mask lands on which frame, what survives a cancelled run, and that
sessions stay apart. The real model is exercised end to end by test_app_video_server.py.
"""

from __future__ import annotations

import os
import threading
import time
import zipfile

import numpy as np
import pytest

from ui.video.controller import VideoController
from ui.video.engine import VideoEngine
from ui.video.media import VideoLimits
from ui.common.errors import UserError

from tests.support.media import pattern_clip
from tests.support.video_fakes import LIMITS, SMALL, TINY, FakePredictor, FakeRegistry, fake_controller as _controller, run_track as _run_track



@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """8 frames of 160x120 at 8 fps."""
    return pattern_clip(tmp_path_factory.mktemp("clips"))


def _mask(c, sid, frame, obj_id):
    entry = c.sessions.get(sid)
    return entry.state.state.masks.mask(frame, obj_id)



def test_click_shows_the_mask_at_once_and_corrections_stay_conditioning(clip_path):
    c, preds = _controller()
    view = c.load("s", clip_path)
    # a small clip is shown enlarged (4x here); prompts and masks stay in clip pixels
    assert view.num_frames == 8 and view.canvas.shape == (480, 640, 3) and "Loaded" in view.status
    before = view.canvas.astype(int)
    view = c.add_point("s", 3, 40, 60, True, 1)
    assert view.frame == 3 and view.objects == [("Object 1 · id 1", 1)] and view.active_id == 1
    m = _mask(c, "s", 3, 1)
    assert m[60, 40] and m.sum() > 50 and not m[10, 150]
    assert np.abs(view.canvas.astype(int)[241, 161] - before[241, 161]).sum() > 30  # tinted + marker
    assert preds[TINY].add_all_frames_to_correct_as_cond is True
    # a box adds to the object's clicks on that frame
    c.add_box("s", 3, 100, 20, 140, 50, 1)
    m = _mask(c, "s", 3, 1)
    assert m[30, 120] and m[60, 40]
    c.add_point("s", 3, 120, 30, False, 1)  # background click cuts a hole
    assert not _mask(c, "s", 3, 1)[30, 120]
    c.undo("s", 3)
    assert _mask(c, "s", 3, 1)[30, 120]
    with pytest.raises(UserError, match="outside the clip"):
        c.add_point("s", 8, 10, 10, True, 1)
    with pytest.raises(UserError, match="outside the frame"):
        c.add_point("s", 0, 200, 10, True, 1)


def test_track_both_ways_fills_every_frame_and_objects_can_be_added_after(clip_path):
    c, preds = _controller()
    c.load("s", clip_path)
    with pytest.raises(UserError, match="Nothing to track"):
        list(c.track("s", "both", 0))
    with pytest.raises(UserError, match="direction"):
        list(c.track("s", "sideways", 0))
    c.add_point("s", 0, 30, 30, True, 9)
    with pytest.raises(UserError, match="nothing before it"):
        list(c.track("s", "backward", 0))
    c.remove_object("s", 9)
    c.add_point("s", 1, 30, 30, True, 1)
    c.add_point("s", 6, 120, 90, True, 2)
    views = _run_track(c, "s", "both", 4)
    assert "Tracked 8 frames both from frame 4" in views[-1].status
    info = c.info("s")
    assert info["tracked_frames"] == list(range(8)) and not info["tracking_stale"]
    assert _mask(c, "s", 0, 1)[30, 30] and _mask(c, "s", 7, 2)[90, 120]
    # after tracking: a correction and a new object, then track again
    c.add_point("s", 5, 60, 60, True, 1)
    assert c.info("s")["tracking_stale"]
    c.new_object("s", "late one")
    view = c.add_point("s", 2, 100, 20, True, 0)  # 0: the selected (new) object
    assert view.active_id == 3 and [o[1] for o in view.objects] == [1, 2, 3]
    _run_track(c, "s", "forward", 2)
    assert _mask(c, "s", 7, 3)[20, 100] and _mask(c, "s", 7, 1)[60, 60]
    assert not _mask(c, "s", 0, 3).any() if _mask(c, "s", 0, 3) is not None else True


def test_cancel_stops_after_the_current_frame_and_keeps_done_frames(clip_path):
    c, _ = _controller(delay=0.15)
    c.load("s", clip_path)
    c.add_point("s", 0, 30, 30, True, 1)
    seen = []

    def consume():
        for v in c.track("s", "forward", 0):
            if v is not None:
                seen.append(v)

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.time() + 10
    while len(c.info("s")["tracked_frames"]) < 3 and time.time() < deadline:
        time.sleep(0.02)
    with pytest.raises(UserError, match="Tracking is running"):
        c.add_point("s", 2, 30, 30, True, 1)
    t0 = time.time()
    c.show("s", 1)  # views do not wait for the frame being tracked
    assert time.time() - t0 < 0.12
    with pytest.raises(UserError, match="already running"):
        list(c.track("s", "forward", 0))
    view = c.cancel("s")
    t.join(5)
    assert not t.is_alive()
    done = c.info("s")["tracked_frames"]
    assert 3 <= len(done) < 8 and done == list(range(len(done)))
    assert "cancelled" in view.status and not c.info("s")["tracking"]
    assert c.info("s")["tracking_stale"]  # an unfinished run does not count as up to date
    # the session carries on: prompts work and a new run completes
    c.add_point("s", 2, 50, 50, True, 2)
    _run_track(c, "s", "forward", 0)
    assert c.info("s")["tracked_frames"] == list(range(8))
    assert "Nothing to cancel" in c.cancel("s").status or "No tracking" in c.cancel("s").status


def test_closing_the_tracking_generator_stops_the_job(clip_path):
    """What Gradio's Cancel button (cancels=[...]) and a closed tab do: close the generator."""
    c, _ = _controller(delay=0.1)
    c.load("s", clip_path)
    c.add_point("s", 0, 30, 30, True, 1)
    gen = c.track("s", "forward", 0)
    while len(c.info("s")["tracked_frames"]) < 2:
        next(gen)
    t0 = time.time()
    gen.close()
    assert time.time() - t0 < 1.0  # does not wait for the job
    deadline = time.time() + 5
    while c.info("s")["tracking"] and time.time() < deadline:
        time.sleep(0.02)
    info = c.info("s")
    assert not info["tracking"] and 2 <= len(info["tracked_frames"]) < 8
    c.add_point("s", 3, 40, 40, True, 1)  # usable again


def test_two_sessions_tracking_at_once_stay_apart(clip_path, tmp_path):
    c, _ = _controller(delay=0.03)
    import shutil

    other = str(tmp_path / "other.mp4")
    shutil.copy(clip_path, other)
    c.load("a", clip_path)
    c.load("b", other)
    c.add_point("a", 0, 30, 30, True, 1)
    c.add_point("b", 7, 120, 90, True, 5)
    results = {}

    def run(sid, direction, frame):
        results[sid] = _run_track(c, sid, direction, frame)[-1].status

    threads = [threading.Thread(target=run, args=("a", "forward", 0)),
               threading.Thread(target=run, args=("b", "backward", 7))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert "Tracked 8 frames forward" in results["a"] and "Tracked 8 frames backward" in results["b"]
    a, b = c.info("a"), c.info("b")
    assert [o["id"] for o in a["objects"]] == [1] and [o["id"] for o in b["objects"]] == [5]
    assert _mask(c, "a", 7, 1)[30, 30] and _mask(c, "b", 0, 5)[90, 120]
    assert _mask(c, "a", 7, 5) is None and _mask(c, "b", 0, 1) is None


def test_objects_clear_delete_rename_and_start_over(clip_path):
    c, preds = _controller()
    c.load("s", clip_path)
    c.add_point("s", 2, 30, 30, True, 1)
    c.add_point("s", 2, 100, 60, True, 2)
    c.add_point("s", 4, 100, 60, True, 2)
    view = c.rename_object("s", 2, "  the   box ")
    assert view.objects[1] == ("the box · id 2", 2)
    view = c.clear_frame("s", 2, 2)
    assert "Cleared the prompts of the box on frame 2" in view.status
    assert not _mask(c, "s", 2, 2).any() and _mask(c, "s", 2, 1)[30, 30]
    assert [o["prompted_frames"] for o in c.info("s")["objects"]] == [[2], [4]]
    view = c.select_object("s", 1)
    assert view.active_id == 1
    view = c.remove_object("s", 2)
    assert preds[TINY].removed == [2] and [o[1] for o in view.objects] == [1] and view.active_id == 1
    assert _mask(c, "s", 4, 2) is None
    with pytest.raises(UserError, match="no object with id 9"):
        c.select_object("s", 9)
    view = c.clear_all("s")
    assert view.objects == [] and c.info("s")["tracked_frames"] == []
    with pytest.raises(UserError, match="no object to delete"):
        c.remove_object("s", 0)


def test_switching_model_replays_the_prompts(clip_path):
    c, preds = _controller()
    c.load("s", clip_path)
    c.add_point("s", 1, 30, 30, True, 1)
    c.add_box("s", 5, 80, 40, 120, 90, 2)
    view = c.set_model("s", "small")
    assert "Prompts were applied again" in view.status
    assert sorted(preds[SMALL].prompt_calls) == [(1, 1), (5, 2)]
    assert c.info("s")["model"] == SMALL and c.info("s")["tracking_stale"]
    with pytest.raises(UserError, match="unknown model"):
        c.set_model("s", "gigantic")


def test_a_refused_model_switch_keeps_the_session(clip_path):
    from ui.common.errors import ModelUnavailableError

    preds = {TINY: FakePredictor(), SMALL: FakePredictor()}
    c = VideoController(VideoEngine(FakeRegistry(preds, unavailable={SMALL})), LIMITS)
    c.load("s", clip_path)
    c.add_point("s", 1, 30, 30, True, 1)
    _run_track(c, "s", "forward", 1)
    before = c.info("s")
    mask = _mask(c, "s", 3, 1).copy()
    with pytest.raises(ModelUnavailableError, match="unavailable.*Still using SAM 2.1 · tiny"):
        c.set_model("s", "small")
    after = c.info("s")
    assert after["model"] == TINY and after["tracked_frames"] == before["tracked_frames"]
    assert not after["tracking_stale"] and np.array_equal(_mask(c, "s", 3, 1), mask)
    assert preds[SMALL].prompt_calls == []
    # the session carries on with the model that works
    view = c.add_point("s", 2, 60, 40, True, 1)
    assert view.status and preds[TINY].prompt_calls[-1] == (2, 1)


def test_render_and_export_files(clip_path):
    import imageio_ffmpeg

    c, _ = _controller()
    c.load("s", clip_path)
    with pytest.raises(UserError, match="Nothing to download"):
        c.export("s")
    c.add_point("s", 0, 30, 30, True, 1)
    c.add_point("s", 3, 100, 60, True, 2)
    _run_track(c, "s", "forward", 0)
    path, status = c.render("s", "highlight")
    assert path.endswith(".mp4") and "highlight" in status
    with pytest.raises(UserError, match="unknown effect"):
        c.render("s", "sparkles")
    # the preview of a run that just finished is made once, after the run, outside the lock
    _run_track(c, "s", "forward", 0)
    after = c.render_after_track("s", "overlay")
    assert after is not None and "Preview ready." in after[1]
    reader = imageio_ffmpeg.read_frames(after[0])
    assert next(reader)["size"] == (160, 120) and sum(1 for _ in reader) == 8
    assert c.render_after_track("s", "overlay") is None
    paths, status = c.export("s", "overlay")
    assert [os.path.basename(p) for p in paths] == ["clip_overlay.mp4", "clip_masks.zip", "clip_coco.json",
                                                     "clip_boxes.json"]
    assert "8 of 8 frames have masks, 2 objects" in status
    reader = imageio_ffmpeg.read_frames(paths[0])
    meta = next(reader)
    assert meta["size"] == (160, 120) and sum(1 for _ in reader) == 8 and meta["codec"] == "h264"
    with zipfile.ZipFile(paths[1]) as zf:
        assert len(zf.namelist()) == 8 * 2 + 8 + 1


def test_sessions_are_freed_on_unload_and_by_the_idle_sweep(clip_path):
    c, _ = _controller()
    c.load("s", clip_path)
    c.add_point("s", 0, 30, 30, True, 1)
    paths, _ = c.export("s")
    assert os.path.exists(paths[0])
    c.drop("s")
    assert "s" not in c.sessions and not os.path.exists(paths[0])
    c.load("t", clip_path)
    c.sessions.get("t").last_used -= 10 * 3600
    assert c.sessions.sweep() == ["t"] and len(c.sessions) == 0
    # a fresh session after that starts empty
    assert c.view("t").canvas is None


def test_loading_a_new_video_while_tracking_stops_the_old_run(clip_path):
    c, _ = _controller(delay=0.1)
    c.load("s", clip_path)
    c.add_point("s", 0, 30, 30, True, 1)
    gen = c.track("s", "forward", 0)
    next(gen)
    view = c.load("s", clip_path)
    assert view.objects == [] and not c.info("s")["tracking"]
    list(gen)  # the old run ends quietly
    assert c.info("s")["tracked_frames"] == []


def test_limits_applied_on_upload_are_reported(clip_path):
    small = VideoLimits(max_seconds=5, max_frames=4, max_fps=10, max_short_side=60, max_long_side=80)
    c, _ = _controller(limits=small)
    view = c.load("s", clip_path)
    assert view.num_frames == 4 and "Limits applied" in view.status
    assert "trimmed" in view.warning and "downscaled from 160x120 to 80x60" in view.warning
    info = c.info("s")
    assert (info["width"], info["height"], info["source_width"]) == (80, 60, 160) and info["notes"]
    assert c.load("s", clip_path).warning  # every upload over the limits says so
    c2, _ = _controller()
    assert c2.load("s", clip_path).warning == ""


def test_other_tabs_tracking_are_counted(clip_path):
    c, _ = _controller(delay=0.1)
    c.load("a", clip_path)
    c.add_point("a", 0, 30, 30, True, 1)
    gen = c.track("a", "forward", 0)
    next(gen)
    assert c.tracking_elsewhere("b") == 1 and c.tracking_elsewhere("a") == 0
    gen.close()
    deadline = time.time() + 5
    while c.tracking_elsewhere("b") and time.time() < deadline:
        time.sleep(0.02)
    assert c.tracking_elsewhere("b") == 0
