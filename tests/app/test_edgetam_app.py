"""The app with ``--model facebook/EdgeTAM``: a clip tracked through ``gradio_client``.

The app runs in a child process whose Hugging Face cache holds random EdgeTAM weights
(offline), as a user's would after the first download. Random weights give arbitrary
blobs, so the checks are structural: every frame gets a mask and the downloads are made.
The cache holds EdgeTAM only and the Hub is offline, so no other model could have served.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2.media.mp4 import write_mp4
from tests.support.hub_cache import AppProcess, hf_cache_env

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

W, H, N = 160, 120, 3


def _frames():
    for i in range(N):
        img = np.zeros((H, W, 3), np.uint8)
        img[:] = np.linspace(60, 200, W, dtype=np.uint8)[None, :, None]
        img[30:70, 20 + 10 * i: 60 + 10 * i] = (220, 40, 40)
        yield img


@pytest.mark.slow
def test_app_tracks_a_clip_with_edgetam(tmp_path):
    clip = write_mp4(str(tmp_path / "square.mp4"), _frames(), fps=6)
    env = hf_cache_env(str(tmp_path / "hf_home"), model_id="facebook/EdgeTAM")
    with AppProcess(["--device", "cpu", "--model", "edgetam"], env) as app:
        client = Client(app.url, verbose=False)
        try:
            *_, status, _ = client.predict(handle_file(clip), api_name="/video_load")
            assert f"{N} frames" in status, status
            *_, status, obj = client.predict(0, 40, 50, True, 1, api_name="/video_add_point")
            assert obj == 1 and f"1/{N} frames with masks" in status, status
            out = client.predict("forward", 0, api_name="/video_track")
            assert f"{N}/{N} frames with masks" in str(out), out
            files, _, status = client.predict("overlay", api_name="/video_export")
            assert "files ready" in status and len(files) >= 3, status
        finally:
            client.close()
