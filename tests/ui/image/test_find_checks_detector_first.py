"""The image tab's Find asks for the detector before it encodes the picture: where the
detector cannot be had, the answer comes at once, with no encoding spent."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sam2.find import DetectorUnavailableError
from ui.find.finder import Finder
from ui.image.controller import ImageController
from ui.image.find import ImageFind
from ui.models.registry import ModelUnavailableError


class CountingEngine:
    """An image engine that only counts what the Find path asks of it."""

    def __init__(self) -> None:
        self.encodes = 0
        self.registry = SimpleNamespace(require_available=lambda key: "m", default_model="facebook/sam2.1-hiera-tiny",
                                        device="cpu", resolve=lambda key: "facebook/sam2.1-hiera-tiny",
                                        is_loaded=lambda key: False, unavailable_reason=lambda key: None)

    def ensure_model(self, key, progress):
        return "m"

    def encode(self, model_id, image):
        self.encodes += 1
        return SimpleNamespace(model_id="m", predictor=object(), seconds=5.0)


def test_find_without_a_detector_answers_before_encoding(monkeypatch):
    engine = CountingEngine()
    controller = ImageController(engine)
    controller.load("s", np.zeros((32, 48, 3), np.uint8))
    finder = Finder(detector="no-such/detector")
    monkeypatch.setattr(finder, "unavailable_reason", lambda: None)  # looks available until loaded

    def fail(*args, **kwargs):
        raise DetectorUnavailableError("no weights for no-such/detector here")

    monkeypatch.setattr("sam2.find.load_detector", fail)
    with pytest.raises(ModelUnavailableError, match="Find is unavailable"):
        ImageFind(controller, finder).find("s", "car")
    assert engine.encodes == 0
