"""A user's Cancel is reported as information (blue ``gr.Info``), never as a yellow Warning."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sam2.automatic_mask_generator import GenerationCancelled
from ui.tabkit import guard as errors
from ui.image.controller import ImageController
from ui.image.engine import EverythingParams
from ui.common.errors import Notice, UserError


@pytest.fixture
def toasts(monkeypatch):
    seen = []
    monkeypatch.setattr(errors.gr, "Info", lambda text, *a, **k: seen.append(("info", text)))
    monkeypatch.setattr(errors.gr, "Warning", lambda text, *a, **k: seen.append(("warning", text)))
    return seen


def test_notice_is_an_info_toast_and_a_mistake_stays_a_warning(toasts):
    @errors.guarded("status")
    def cancelled():
        raise Notice("Segment everything cancelled after 2 of 5 batches.")

    @errors.guarded("status")
    def mistake():
        raise UserError("Load an image first.")

    assert cancelled() == {"status": "ℹ️ Segment everything cancelled after 2 of 5 batches."}
    assert mistake() == {"status": "⚠️ Load an image first."}
    assert toasts == [("info", "Segment everything cancelled after 2 of 5 batches."),
                      ("warning", "Load an image first.")]


class _Registry:
    def require_available(self, _key):
        return None

    def resolve(self, key):
        return key or "fake"


class _SlowEngine:
    """Segment everything that runs batches until it is stopped."""

    everything_budget = None
    registry = _Registry()

    def ensure_model(self, key, progress):
        return "fake"

    def segment_everything(self, model_id, image, params, on_batch, stop):
        for done in range(1, 1000):
            if stop.is_set():
                raise GenerationCancelled()
            time.sleep(0.02)
            on_batch(done, 1000)
        raise AssertionError("never cancelled")


def test_cancelling_segment_everything_ends_with_a_notice():
    c = ImageController(_SlowEngine())
    c.load("s", np.zeros((16, 16, 3), np.uint8), name="x.png")
    run = c.everything("s", EverythingParams(points_per_side=4))
    next(run)  # started
    threading.Timer(0.2, lambda: c.cancel_everything("s")).start()
    with pytest.raises(Notice, match="cancelled after"):
        for _ in run:
            pass


def test_segment_everything_progress_says_the_time_left():
    said = []
    c = ImageController(_SlowEngine())
    c.load("s", np.zeros((16, 16, 3), np.uint8), name="x.png")
    run = c.everything("s", EverythingParams(points_per_side=4), lambda f, text: said.append(text))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("left" in t for t in said):
        next(run)
    c.cancel_everything("s")
    with pytest.raises(Notice):
        for _ in run:
            pass
    estimate = [t for t in said if "left" in t]
    assert estimate and "Segment everything: batch" in estimate[0]
    assert estimate[0].split("about ")[1].split()[1] in ("s", "min")  # 1000 batches of 20 ms: ~20 s
