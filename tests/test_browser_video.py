"""The video tab in a real headless Chromium: upload a clip, click on a frame, see the mask
appear where the click was, track, and get a playable preview. Screenshots are kept in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from sam2.media.mp4 import write_mp4
from ui.testing import REPO_ROOT, AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
W, H = 240, 160

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


def _frames(n: int):
    for i in range(n):
        img = np.zeros((H, W, 3), np.uint8)
        img[:] = np.linspace(80, 190, W, dtype=np.uint8)[None, :, None]
        img[40:100, 30 + 12 * i: 90 + 12 * i] = (210, 50, 40)
        yield img


def _write_clip(path: str, n: int = 3) -> str:
    return write_mp4(path, _frames(n), fps=6)


def _fetch_image(page, src: str) -> np.ndarray:
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(np.int16)


def _status(page) -> str:
    return page.locator("#video-status").inner_text()


def test_click_on_a_frame_draws_its_mask_then_track_and_preview(tmp_path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    clip = _write_clip(str(tmp_path / "red_box.mp4"))
    env = hf_cache_env(str(tmp_path / "hf"))
    with AppProcess(["--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app.url, wait_until="load", timeout=120_000)
        page.get_by_role("tab", name="Video").click(timeout=120_000)
        page.locator("#video-upload input[type=file]").set_input_files(clip)
        canvas = page.locator("#video-canvas img")
        canvas.wait_for(state="visible", timeout=120_000)
        # the model loads and frame 0 is encoded right after the upload
        page.wait_for_function(
            "() => document.querySelector('#video-status')?.innerText.includes('Ready')", timeout=240_000)
        before_src = canvas.get_attribute("src")
        before = _fetch_image(page, before_src)

        # click at clip pixel (60, 70), inside the red box. The frame is shown enlarged (a
        # small clip) and the <img> letterboxed in its box the way Gradio's click handler
        # assumes (contain, never above natural size); map to the screen the same way.
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        natural_w, natural_h = canvas.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        zoom = natural_w / W
        assert natural_w > W and abs(natural_h / H - zoom) < 0.02
        x, y = 60, 70
        dx, dy = (x + 0.5) * zoom - 0.5, (y + 0.5) * zoom - 0.5
        r = min(box["width"] / natural_w, box["height"] / natural_h, 1.0)
        page.mouse.click(box["x"] + (box["width"] - natural_w * r) / 2 + (dx + 0.5) * r,
                         box["y"] + (box["height"] - natural_h * r) / 2 + (dy + 0.5) * r)
        page.wait_for_function(
            "(old) => { const i = document.querySelector('#video-canvas img'); return i && i.src !== old; }",
            arg=before_src, timeout=120_000)
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_video_click.png"), full_page=True)
        after = _fetch_image(page, canvas.get_attribute("src"))
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
        last = _fetch_image(page, canvas.get_attribute("src"))
        browser.close()
    plain_last = before  # frame 0 without masks, same background
    assert np.abs(last - plain_last).sum(axis=-1).__gt__(40).mean() > 0.01
