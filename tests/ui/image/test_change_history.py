"""Ctrl+Z / Ctrl+Y on the image tab (issue #22): back and forward over every change of a
session (prompts, strokes, candidates, new / deleted / picked objects, Clear all), with a
stand-in engine (no model) whose masks are discs around the foreground points."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from ui.common.errors import UserError
from ui.common.history import HISTORY_STEPS
from ui.image.controller import ImageController
from ui.image.state import Prediction

H, W = 48, 64


class _Registry:
    @staticmethod
    def resolve(model_id):
        return "stand-in"

    @staticmethod
    def require_available(model_id):
        return None


class _Engine:
    """Encode: nothing; decode: three candidates, a disc of radius 5 / 8 / 11 around each point."""

    registry = _Registry()
    everything_budget = None
    encode_seconds: dict = {}

    def ensure_model(self, model_id, progress=None):
        return "stand-in"

    def encode(self, model_id, image):
        return SimpleNamespace(model_id="stand-in", image=image, seconds=0.0)

    def predict(self, emb, prompts, multimask=True):
        yy, xx = np.mgrid[0:H, 0:W]
        masks = np.zeros((3, H, W), bool)
        for k, r in enumerate((5, 8, 11)):
            for x, y, label in prompts.points:
                disc = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
                masks[k] = (masks[k] | disc) if label == 1 else (masks[k] & ~disc)
        return Prediction(masks=masks, iou=np.array([0.9, 0.8, 0.7], np.float32), stability=np.ones(3, np.float32),
                          low_res_logits=np.zeros((3, 256, 256), np.float32))


@pytest.fixture
def ctl(tmp_path):
    c = ImageController(_Engine(), render=lambda slot, note: slot)  # type: ignore[arg-type]
    path = tmp_path / "p.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(path)
    c.load("s", str(path))
    return c


def _shape(slot):
    """What the user sees: per object its name, points, strokes and mask area."""
    return [(o.name, o.prompts.points, len(o.prompts.strokes), None if o.mask is None else int(o.mask.sum()))
            for o in slot.state.objects], slot.state.active


def test_undo_and_redo_walk_over_every_kind_of_change(ctl):
    seen = [_shape(ctl.view("s"))]
    for act in (lambda: ctl.add_point("s", 20, 20, True),
                lambda: ctl.add_point("s", 24, 20, False),
                lambda: ctl.add_stroke("s", [(40.0, 30.0)], 3.0),
                lambda: ctl.choose("s", 2),
                lambda: ctl.rename_object("s", "ball"),
                lambda: ctl.new_object("s"),
                lambda: ctl.add_point("s", 50, 10, True),
                lambda: ctl.remove_object("s"),
                lambda: ctl.clear_all("s")):
        seen.append(_shape(act()))
    assert seen[-1][0] == [("Object 1", (), 0, None)]  # Clear all
    # Back, one change at a time, to the empty start ...
    for want in reversed(seen[:-1]):
        assert _shape(ctl.history("s", -1)) == want
    with pytest.raises(UserError, match="Nothing to undo"):
        ctl.history("s", -1)
    # ... and forward again to Clear all.
    for want in seen[1:]:
        assert _shape(ctl.history("s", 1)) == want
    with pytest.raises(UserError, match="Nothing to redo"):
        ctl.history("s", 1)


def test_a_new_change_drops_redo_and_a_new_picture_drops_history(ctl, tmp_path):
    ctl.add_point("s", 20, 20, True)
    ctl.add_point("s", 30, 20, True)
    ctl.history("s", -1)
    ctl.add_point("s", 10, 10, True)
    with pytest.raises(UserError, match="Nothing to redo"):
        ctl.history("s", 1)
    assert ctl.history("s", -1).state.current.prompts.points == ((20.0, 20.0, 1),)
    path = tmp_path / "q.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(path)
    ctl.load("s", str(path))
    with pytest.raises(UserError, match="Nothing to undo"):
        ctl.history("s", -1)


def test_a_refused_change_is_not_recorded_and_history_is_bounded(ctl):
    with pytest.raises(UserError):
        ctl.choose("s", 0)  # no candidates yet: refused, nothing to undo
    with pytest.raises(UserError, match="Nothing to undo"):
        ctl.history("s", -1)
    for i in range(HISTORY_STEPS + 5):
        ctl.add_point("s", 5 + i % 50, 20, True)
    for _ in range(HISTORY_STEPS):
        ctl.history("s", -1)
    with pytest.raises(UserError, match="Nothing to undo"):
        ctl.history("s", -1)
    assert len(ctl.view("s").state.current.prompts.points) == 5


def test_history_event_parses_its_step():
    from ui.canvas import CanvasPayloadError, HistoryEvent

    assert HistoryEvent.parse({"step": -1, "frame": 0}).step == -1
    assert HistoryEvent.parse({"step": 1}).step == 1
    for bad in ({"step": 0}, {"step": 2}, {"step": "1"}, {}):
        with pytest.raises(CanvasPayloadError):
            HistoryEvent.parse(bad)


def test_a_find_result_is_one_step_and_a_find_that_found_nothing_is_none(ctl):
    """Ctrl+Z takes back every object one Find added (and Ctrl+Y brings them back); a Find
    that added nothing leaves the history as it was (redo still possible)."""
    from sam2.find import FoundObject
    from ui.common.progress import no_progress
    from ui.find.finder import FindOutcome
    from ui.image.find import ImageFind

    ctl.engine.encode = lambda model_id, image: SimpleNamespace(model_id="stand-in", predictor=object(), seconds=0.0)

    def found(label):
        mask = np.zeros((H, W), bool)
        mask[5:15, 5:25] = True
        return FoundObject(label, 0.9, (5.0, 5.0, 24.0, 14.0), mask, 0.8, np.zeros((256, 256), np.float32))

    def outcome(objects):
        return lambda *args: FindOutcome(tuple(objects), (), ("car",), "", "Found.")

    find = ImageFind(ctl, finder=None)  # type: ignore[arg-type]
    ctl.add_point("s", 40, 30, True)
    by_hand = _shape(ctl.view("s"))
    find._add("s", outcome([found("car"), found("dog")]), no_progress)
    with_found = _shape(ctl.view("s"))
    assert [o.label for o in ctl.view("s").state.objects] == [None, "car", "dog"]
    assert _shape(ctl.history("s", -1)) == by_hand  # one step takes both found objects back
    find._add("s", outcome([]), no_progress)  # found nothing: no step, the redo stays
    assert _shape(ctl.history("s", +1)) == with_found
    assert _shape(ctl.history("s", -1)) == by_hand
