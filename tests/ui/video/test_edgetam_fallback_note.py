"""The video tab says so when it cannot track with EdgeTAM and falls back to SAM 2.1 tiny,
with the time a frame is expected to take (the issue: 9 s a frame instead of ~1, silently)."""

from __future__ import annotations

import pytest

from ui.models.names import DEFAULT_CPU_MODEL, EDGETAM_MODEL
from ui.common.errors import ModelUnavailableError
from ui.video.controller import VideoController
from ui.video.engine import VideoEngine


class _Registry:
    def __init__(self, edgetam_ok: bool, device: str = "cpu", model_given: bool = False,
                 precision: str = "exact") -> None:
        self.edgetam_ok, self.device, self.model_given, self.precision = edgetam_ok, device, model_given, precision
        self.default_model = DEFAULT_CPU_MODEL

    def require_available(self, name, remember=True):
        if name == EDGETAM_MODEL and not self.edgetam_ok:
            raise ModelUnavailableError("EdgeTAM is unavailable: its weights are not on this server and the "
                                        "Hugging Face Hub cannot be reached.", model_id=EDGETAM_MODEL, offline=True)
        return name or self.default_model

    def tracking_default(self):
        if self.model_given or self.device.startswith("cuda"):
            return self.default_model
        try:
            return self.require_available(EDGETAM_MODEL)
        except ModelUnavailableError:
            return self.default_model

    def resolve(self, name):
        return name or self.default_model


def _note(registry) -> str:
    return VideoController(VideoEngine(registry)).model_note()


@pytest.mark.parametrize("precision, slow, quick", [("exact", "6", "0.9"), ("fast", "1.8", "0.45")])
def test_fallback_to_tiny_is_said_with_the_time_per_frame(precision, slow, quick):
    note = _note(_Registry(edgetam_ok=False, precision=precision))
    assert "EdgeTAM" in note and "unavailable" in note and "SAM 2.1 · tiny" in note, note
    assert f"about {slow} s a frame" in note and f"instead of about {quick} s" in note, note
    assert "/" not in note.replace("s a frame", "")  # no server paths


def test_no_fallback_note_when_edgetam_tracks_or_the_user_chose_a_model():
    assert "fastest model" in _note(_Registry(edgetam_ok=True))  # EdgeTAM is used: the usual line
    assert _note(_Registry(edgetam_ok=False, model_given=True)) == ""  # --model tiny: nothing fell back
    assert _note(_Registry(edgetam_ok=False, device="cuda")) == ""  # on a GPU the default is the app's
