"""The video tab's brush / eraser (a painted frame becomes the object's mask prompt there) and
its Ctrl+Z / Ctrl+Y over every change, with the stand-in predictor of ``tests.support.video_fakes``
(discs around clicks; tracking copies the nearest prompted mask)."""

from __future__ import annotations


import numpy as np
import pytest

from ui.common.errors import UserError
from ui.common.history import HISTORY_STEPS
from ui.common.strokes import Stroke, apply_strokes

from tests.support.media import pattern_clip
from tests.support.video_fakes import TINY, fake_controller, run_track


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """8 frames of 160x120 at 8 fps."""
    return pattern_clip(tmp_path_factory.mktemp("clips"))


def _st(c, sid="s"):
    return c.sessions.get(sid).state.state


def _mask(c, frame, obj_id, sid="s"):
    return _st(c, sid).masks.mask(frame, obj_id)


def _seen(c, sid="s"):
    """What the user sees: objects (id, name, prompts per frame) and each frame's mask areas."""
    st = _st(c, sid)
    objects = [(o.obj_id, o.name, sorted(o.prompts.items())) for o in st.objects]
    areas = {f: {oid: pm.area for oid, pm in st.masks.frame(f).items()} for f in st.masks.frames()}
    return objects, areas, st.active_id


def test_a_brush_stroke_becomes_the_objects_mask_prompt_and_tracking_follows_it(clip_path):
    c, preds = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 2, 40, 60, True, 1)
    before = _mask(c, 2, 1)
    view = c.add_stroke("s", 2, [(100.0, 30.0), (130.0, 30.0)], 5.0, False, 1)
    # the model was given exactly the shown mask plus the stroke, as a mask for object 1 on frame 2
    (frame, oid, given), = preds[TINY].mask_calls
    expected = apply_strokes(before, (Stroke(((100.0, 30.0), (130.0, 30.0)), 5.0, False, (120, 160)),))
    assert (frame, oid) == (2, 1) and np.array_equal(given, expected)
    assert given[30, 115] and given[60, 40] and not given[60, 100] and given.sum() > before.sum() + 150
    # shown at once; the mask prompt replaced the clicks there (the reference's add_new_mask)
    assert np.array_equal(_mask(c, 2, 1), given)
    prompts = _st(c).objects[0].prompts[2]
    assert prompts.points == () and prompts.mask is not None
    assert "painted mask here" in view.status and "it replaces the clicks there" in view.status
    # tracking follows the painted mask: every frame gets it (the stand-in copies the prompt)
    run_track(c, "s", "both", 2)
    for f in range(8):
        assert np.array_equal(_mask(c, f, 1), given), f
    # the eraser takes pixels out, again as a mask prompt
    c.add_stroke("s", 5, [(40.0, 60.0)], 3.0, True, 1)
    assert not _mask(c, 5, 1)[60, 40] and _mask(c, 5, 1)[30, 115]
    assert preds[TINY].mask_calls[-1][0] == 5


def test_a_click_after_painting_refines_the_painted_mask_and_z_steps_back(clip_path):
    c, preds = fake_controller()
    c.load("s", clip_path)
    c.add_stroke("s", 1, [(30.0, 30.0), (60.0, 30.0)], 6.0, False)  # the brush makes object 1
    painted = _mask(c, 1, 1)
    assert _st(c).active_id == 1 and painted[30, 45]
    view = c.add_point("s", 1, 120, 90, True, 1)
    m = _mask(c, 1, 1)
    assert m[30, 45] and m[90, 120], "the click was decoded with the painted mask"
    assert "painted mask + 1 foreground" in view.status
    c.add_point("s", 1, 45, 30, False, 1)  # a background click cuts into the painted part
    assert not _mask(c, 1, 1)[30, 45] and _mask(c, 1, 1)[30, 32]
    c.undo("s", 1)  # Z: the newest click goes, then the other, then the painted mask
    c.undo("s", 1)
    assert np.array_equal(_mask(c, 1, 1), painted)
    c.undo("s", 1)
    assert not _mask(c, 1, 1).any() and _st(c).objects[0].prompted_frames == []


def test_strokes_that_change_nothing_or_erase_everything_are_refused(clip_path):
    c, _ = fake_controller()
    c.load("s", clip_path)
    with pytest.raises(UserError, match="no mask on frame 0 to erase"):
        c.add_stroke("s", 0, [(10.0, 10.0)], 4.0, True)
    assert _st(c).objects == []  # a refused stroke makes no object
    c.add_point("s", 0, 40, 60, True, 1)
    with pytest.raises(UserError, match="does not change"):
        c.add_stroke("s", 0, [(150.0, 110.0)], 3.0, True, 1)
    with pytest.raises(UserError, match="erase all of Object 1"):
        c.add_stroke("s", 0, [(40.0, 60.0)], 30.0, True, 1)
    with pytest.raises(UserError, match="radius"):
        c.add_stroke("s", 0, [(40.0, 60.0)], 0.0, False, 1)
    with pytest.raises(UserError, match="outside the clip"):
        c.add_stroke("s", 9, [(40.0, 60.0)], 3.0, False, 1)


def test_ctrl_z_and_ctrl_y_walk_over_every_change_and_the_model_is_told_again(clip_path):
    c, preds = fake_controller()
    c.load("s", clip_path)
    seen = [_seen(c)]
    for act in (lambda: c.add_point("s", 0, 40, 60, True, 1),
                lambda: c.add_box("s", 0, 90, 20, 130, 50, 1),
                lambda: c.add_stroke("s", 3, [(20.0, 100.0)], 5.0, False, 1),
                lambda: c.rename_object("s", 1, "ball"),
                lambda: c.new_object("s", "second"),
                lambda: c.add_point("s", 4, 120, 90, True, 2),
                lambda: c.undo("s", 4),
                lambda: c.add_point("s", 4, 110, 80, True, 2),
                lambda: c.clear_frame("s", 0, 1),
                lambda: c.remove_object("s", 1),
                lambda: c.clear_all("s")):
        act()
        seen.append(_seen(c))
    assert seen[-1] == ([], {}, None)
    for i in range(len(seen) - 2, -1, -1):  # Ctrl+Z back to the start, one change at a time
        view = c.history("s", -1)
        assert _seen(c) == seen[i], i
        assert view.status.startswith("Undone.")
    with pytest.raises(UserError, match="Nothing to undo"):
        c.history("s", -1)
    for i in range(1, len(seen)):  # and Ctrl+Y forward to the end
        c.history("s", +1)
        assert _seen(c) == seen[i], i
    with pytest.raises(UserError, match="Nothing to redo"):
        c.history("s", +1)
    # Delete object comes back with its prompts, and the model has them again
    c.history("s", -1)  # Start over undone
    c.history("s", -1)  # Delete object 1 undone
    st = _st(c)
    assert [o.obj_id for o in st.objects] == [1, 2] and sorted(st.objects[0].prompts) == [3]
    fake_state = c.sessions.get("s").state.inference
    assert set(fake_state.cond[1]) == {3} and set(fake_state.cond[2]) == {4}
    assert st.tracking_stale
    # a new change drops what could be redone
    c.add_point("s", 6, 20, 20, True, 2)
    with pytest.raises(UserError, match="Nothing to redo"):
        c.history("s", +1)


def test_undo_shows_the_frame_of_the_change_and_keeps_tracked_frames_until_prompts_differ(clip_path):
    c, preds = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 0, 40, 60, True, 1)
    run_track(c, "s", "forward", 0)
    assert not _st(c).tracking_stale and len(_st(c).masks.frames()) == 8
    c.new_object("s")  # no prompt change
    resets = getattr(preds[TINY], "resets", 0)
    c.history("s", -1)
    assert not _st(c).tracking_stale and getattr(preds[TINY], "resets", 0) == resets  # model untouched
    c.show("s", 7)
    c.add_point("s", 5, 100, 30, True, 1)
    view = c.history("s", -1)
    assert view.frame == 5 and _st(c).tracking_stale  # prompts changed back: Track again
    assert len(_st(c).masks.frames()) == 8  # the tracked masks shown before the click are back
    assert not _mask(c, 5, 1)[30, 100]
    # the page gets the whole scene after a step (every frame of its window, None where a mask is
    # gone, and the coverage that tells it to drop what it held elsewhere), not only the shown one
    c.new_object("s")
    c.add_point("s", 3, 20, 20, True, 2)
    run_track(c, "s", "forward", 3)
    c.history("s", -1)  # object 2's click (and so its prompts) undone: its tracked masks stay shown
    c.history("s", -1)  # object 2 gone
    update = c.canvas("s", frames="all")
    assert sorted(update.masks) == list(range(8)) and all(set(m) == {1} for m in update.masks.values())
    assert set(update.extra["coverage"]) == {"1"}
    assert update.masks[4][1] is not None


def test_history_is_bounded_forgotten_with_a_new_clip_and_refused_while_tracking(clip_path):
    c, _ = fake_controller(delay=0.05)
    c.load("s", clip_path)
    for i in range(HISTORY_STEPS + 5):
        c.add_point("s", 0, 10 + i, 10, True, 1)
    for _ in range(HISTORY_STEPS):
        c.history("s", -1)
    with pytest.raises(UserError, match="Nothing to undo"):
        c.history("s", -1)
    assert len(_st(c).objects[0].prompts[0].points) == 5
    gen = c.track("s", "forward", 0)
    next(gen)
    try:
        with pytest.raises(UserError, match="Cancel"):
            c.history("s", +1)
    finally:
        gen.close()
        c.cancel("s") if hasattr(c, "cancel") else None
    c.load("s", clip_path)
    with pytest.raises(UserError, match="Nothing to redo"):
        c.history("s", +1)


def test_a_find_on_video_is_one_step_and_a_find_that_found_nothing_is_none(clip_path):
    from types import SimpleNamespace

    from ui.video.find import VideoFind

    found = [SimpleNamespace(label="car", box=(10.0, 10.0, 50.0, 40.0)),
             SimpleNamespace(label="car", box=(80.0, 60.0, 120.0, 100.0))]
    answers = [found, []]
    finder = SimpleNamespace(unavailable_reason=lambda: None,
                             find_boxes=lambda frame, text, threshold, progress=None: SimpleNamespace(
                                 boxes=answers.pop(0), message="Found."))
    c, _ = fake_controller()
    c.load("s", clip_path)
    c.add_point("s", 0, 140, 20, True, 1)
    by_hand = _seen(c)
    find = VideoFind(c, finder)  # type: ignore[arg-type]
    find.find("s", 2, "car")
    with_found = _seen(c)
    assert [o.name for o in _st(c).objects] == ["Object 1", "car 1", "car 2"]
    c.history("s", -1)
    assert _seen(c) == by_hand  # one step takes both found objects back
    find.find("s", 2, "car")  # found nothing: no step, the redo stays
    c.history("s", +1)
    assert _seen(c) == with_found
