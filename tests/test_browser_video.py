"""The video tab in a real headless Chromium: upload a clip, click on a frame, see the mask
appear where the click was, track, and get a playable preview. Screenshots are kept in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sam2.media.mp4 import write_mp4
from tests.browser_support import (ARTIFACTS, CHROMIUM, app_and_browser, click_video, fetch_image, open_page,
                                   upload_video, video_frames)
from ui.testing import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

W, H = 240, 160

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


def _write_clip(path: str, n: int = 3) -> str:
    return write_mp4(path, video_frames(n, W, H), fps=6)


def _status(page) -> str:
    return page.locator("#video-status").inner_text()


def test_click_on_a_frame_draws_its_mask_then_track_and_preview(tmp_path):
    clip = _write_clip(str(tmp_path / "red_box.mp4"))
    env = hf_cache_env(str(tmp_path / "hf"))
    with app_and_browser(["--device", "cpu"], env) as (app, browser):
        page = open_page(browser, app.url)
        upload_video(page, clip)
        canvas = page.locator("#video-canvas img")
        canvas.wait_for(state="visible", timeout=120_000)
        # the model loads and frame 0 is encoded right after the upload
        page.wait_for_function(
            "() => document.querySelector('#video-status')?.innerText.includes('Ready')", timeout=240_000)
        before_src = canvas.get_attribute("src")
        before = fetch_image(page, before_src)

        # click at clip pixel (60, 70), inside the red box (on the enlarged, letterboxed frame)
        dx, dy = click_video(page, 60, 70, W, check_zoom=H)
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_video_click.png"), full_page=True)
        after = fetch_image(page, canvas.get_attribute("src"))
        assert "1 foreground" in _status(page) and "1/3 frames with masks" in _status(page), _status(page)

        changed = np.abs(after - before).sum(axis=-1) > 40
        cx, cy = int(dx), int(dy)
        near = changed[cy - 20: cy + 20, cx - 20: cx + 20]
        assert near.mean() > 0.3, "the overlay did not change at the click"
        assert changed.mean() < 0.98, "the whole frame changed, not an overlay"

        # track forward: the status streams progress, then a playable preview appears
        page.locator("#video-direction").get_by_text("Forward", exact=True).click()
        page.locator("#video-track").click()
        page.wait_for_function(
            "() => document.querySelector('#video-status')?.innerText.includes('Preview ready')", timeout=300_000)
        assert "3/3 frames with masks" in _status(page), _status(page)
        video = page.locator("#video-preview video")
        video.wait_for(state="attached", timeout=60_000)
        page.wait_for_function(
            "() => { const v = document.querySelector('#video-preview video'); return v && v.readyState >= 1; }",
            timeout=60_000)
        duration = video.evaluate("v => v.duration")
        assert 0.3 < duration < 1.0  # 3 frames at 6 fps, decodable by Chromium
        # step to the last frame with the next button: the tracked mask is drawn there too
        page.locator("#video-next").click()
        page.locator("#video-next").click()
        page.wait_for_function(
            "() => document.querySelector('#video-status')?.innerText.includes('Frame 2 of')", timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_video_tracked.png"), full_page=True)
        last = fetch_image(page, canvas.get_attribute("src"))
    plain_last = before  # frame 0 without masks, same background
    assert np.abs(last - plain_last).sum(axis=-1).__gt__(40).mean() > 0.01
