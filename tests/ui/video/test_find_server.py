"""The video tab's "Find objects on this frame", end to end (``python app.py`` + ``gradio_client``).

A seeded random miniature Grounding DINO (``sam2.find.testing``) is the detector; its
boxes are meaningless but fixed, so the test asks the same detector for the expected boxes
on the same decoded frame, then checks one new object per box (named after its label),
each with a mask on that frame, and that "Track" follows them to the other frames.
"""

from __future__ import annotations

import re

import pytest

from tests.support.app import find_app, random_detector_dir

pytest.importorskip("transformers")
gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from tests.support.media import write_squares_clip  # noqa: E402

WORDS = ["square", "ball"]


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    return random_detector_dir(tmp_path_factory, WORDS)


@pytest.fixture(scope="module")
def app(tmp_path_factory, detector_dir):
    with find_app(tmp_path_factory, detector_dir, ["--device", "cpu"]) as proc:
        yield proc


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_find_on_a_frame_adds_box_prompted_objects_that_track(app, tmp_path):
    clip = write_squares_clip(str(tmp_path / "squares.mp4"))
    c = Client(app.url, verbose=False)
    try:
        *_, status, _ = c.predict(1, "square, ball", 0.3, api_name="/video_find")
        assert "Load a video first" in status or "⚠️" in status, status
        c.predict(handle_file(clip), api_name="/video_load")
        *_, status, _ = c.predict(1, "?!", 0.3, api_name="/video_find")
        assert "no word" in status, status
        *_, status, _ = c.predict(1, "square, ball", 1.0, api_name="/video_find")
        assert "Nothing was added" in status, status
        assert c.predict(api_name="/video_info")["objects"] == []
        _, _, objects, _, status, obj = c.predict(1, "square, ball", 0.9, api_name="/video_find")
        info = c.predict(api_name="/video_info")
        names = [o["name"] for o in info["objects"]]
        assert names and all(re.fullmatch(r"(square|ball) \d+", n) for n in names), names
        counts = {w: sum(n.startswith(w + " ") for n in names) for w in WORDS}
        for w, n in counts.items():
            if n:
                assert f"{n} {w}" in status, (status, counts)
        assert "1/3 frames with masks" in status, status
        *_, status, _ = c.predict("both", 1, api_name="/video_track")
        assert "Tracked 3 frames both from frame 1" in status, status
        assert c.predict(api_name="/video_info")["tracked_frames"] == [0, 1, 2]
    finally:
        c.close()
