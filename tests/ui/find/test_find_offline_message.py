"""Find offline: one short sentence with the fix on the page, the details in the server log.

The issue: the page showed a ~100-word exception naming a "detector setting" it does not have.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import sam2.find
from sam2.find import DetectorUnavailableError
from ui.find.finder import DETECTOR_ENV, Finder
from ui.common.errors import ModelUnavailableError

OFFLINE = ("could not get the detector IDEA-Research/grounding-dino-tiny: offline mode is on and it is not in the "
           "local Hugging Face cache (LocalEntryNotFoundError: Cannot find the requested files in the disk cache "
           "and outgoing traffic has been disabled. To enable hf.co look-ups and downloads online, set "
           "'local_files_only' to False.). Check the network connection, or download it elsewhere with "
           "`huggingface-cli download IDEA-Research/grounding-dino-tiny --local-dir DIR`, copy DIR here and pass "
           "its path (load_detector('DIR'), or the app's detector setting).")


def test_offline_detector_is_one_short_sentence_and_the_log_has_the_rest(monkeypatch, caplog):
    def offline(*_a, **_k):
        raise DetectorUnavailableError(OFFLINE)

    monkeypatch.setattr(sam2.find, "load_detector", offline)
    finder = Finder(device="cpu")
    with caplog.at_level(logging.WARNING, logger="sam2.app"):
        with pytest.raises(ModelUnavailableError) as err:
            finder.find(None, np.zeros((8, 8, 3), np.uint8), "car", 0.3)
    text = str(err.value)
    assert text.startswith("Find is unavailable") and "offline" in text
    assert DETECTOR_ENV in text and "box file" in text  # the fixes: what the user can do, what the admin can
    assert "detector setting" not in text and "Error" not in text and "`" not in text
    assert len(text.split()) <= 35 and text.count(". ") == 0, text  # one sentence
    assert finder.unavailable_reason() == text  # the Find panel says the same
    assert "LocalEntryNotFoundError" in caplog.text  # the details went to the server log


def test_any_other_load_failure_points_to_the_log(monkeypatch):
    def broken(*_a, **_k):
        raise DetectorUnavailableError("could not load the detector /srv/models/gdino: OSError: /srv/x.json")

    monkeypatch.setattr(sam2.find, "load_detector", broken)
    finder = Finder(device="cpu", detector="/srv/models/gdino")
    with pytest.raises(ModelUnavailableError, match="server log") as err:
        finder.detector()
    assert "/srv" not in str(err.value) and "OSError" not in str(err.value)
