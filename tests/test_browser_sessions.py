"""Sessions in a real headless Chromium: a reload (F5) brings the work back, a new tab does
not share it, and offered downloads disappear as soon as the masks change. Screenshots are
kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import io
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from ui.testing import REPO_ROOT, AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768
ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANVAS = "#image-canvas img"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]

_TO_SCREEN = """([img, x, y]) => {
  const r = img.getBoundingClientRect();
  const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const ox = (r.width - img.naturalWidth * s) / 2, oy = (r.height - img.naturalHeight * s) / 2;
  return [r.left + ox + (x + 0.5) * s, r.top + oy + (y + 0.5) * s];
}"""


def _fetch(page, selector: str) -> np.ndarray:
    body = page.request.get(page.eval_on_selector(selector, "img => img.src")).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(np.int16)


def _wait_text(page, selector: str, text: str, timeout: int = 120_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def _click_pixel(page, x: int, y: int) -> None:
    old = page.eval_on_selector(CANVAS, "img => img.src")
    page.locator(CANVAS).scroll_into_view_if_needed()
    sx, sy = page.evaluate(_TO_SCREEN, [page.query_selector(CANVAS), x, y])
    page.mouse.click(sx, sy)
    page.wait_for_function(
        "(old) => { const i = document.querySelector('#image-canvas img'); return i && i.src !== old; }",
        arg=old, timeout=120_000)


def _object_labels(page, root: str) -> list:
    return [t.strip() for t in page.locator(f"{root} label").all_inner_texts()]


def _offered_files(page, root: str) -> int:
    return page.locator(f"{root} tbody tr").count()


def test_reload_restores_the_image_session_and_downloads_follow_the_masks(tmp_path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    env = hf_cache_env(str(tmp_path / "hf"))
    with AppProcess(["--no-video", "--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1100})
            page = context.new_page()
            page.goto(app.url, wait_until="load", timeout=120_000)
            page.wait_for_selector("#image-upload input[type=file]", state="attached", timeout=60_000)
            page.set_input_files("#image-upload input[type=file]", SHAPES)
            _wait_text(page, "#image-status", "Ready", timeout=180_000)
            _click_pixel(page, 230, 260)  # the red disc
            _wait_text(page, "#image-status", "1 foreground")
            page.click("#image-new-object")
            _wait_text(page, "#image-status", "Object 2")
            _click_pixel(page, 620, 210)  # the blue square
            _wait_text(page, "#image-status", "1 foreground")

            # Downloads are offered, then taken away by the next change of the masks.
            page.click("#image-export")
            _wait_text(page, "#image-status", "files ready")
            page.wait_for_function("() => document.querySelectorAll('#image-files tbody tr').length > 0")
            offered = _offered_files(page, "#image-files")
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_offered.png"), full_page=True)
            _click_pixel(page, 640, 230)
            _wait_text(page, "#image-status", "2 foreground")
            page.wait_for_timeout(500)
            after_edit = _offered_files(page, "#image-files")
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_cleared.png"), full_page=True)

            before = _fetch(page, CANVAS)
            labels_before = _object_labels(page, "#image-objects")
            status_before = page.inner_text("#image-status")

            t0 = time.monotonic()
            page.reload(wait_until="load")
            _wait_text(page, "#image-status", "Restored after the page reload", timeout=60_000)
            page.wait_for_selector(CANVAS, timeout=60_000)
            print(f"\nreload -> image session shown again in {time.monotonic() - t0:.2f} s")
            page.wait_for_timeout(500)
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_reloaded.png"), full_page=True)
            restored = _fetch(page, CANVAS)
            labels_after = _object_labels(page, "#image-objects")
            status_after = page.inner_text("#image-status")
            candidates = page.locator("#image-candidates img").count()

            # The restored session goes on where it was: one more click on Object 2.
            _click_pixel(page, 600, 190)
            _wait_text(page, "#image-status", "3 foreground")

            # Another tab is another session: it starts empty.
            other = context.new_page()
            other.goto(app.url, wait_until="load", timeout=120_000)
            _wait_text(other, "#image-status", "Upload an image", timeout=60_000)
            other.wait_for_timeout(1000)
            other_has_canvas = other.locator(CANVAS).count() > 0 and bool(
                other.eval_on_selector(CANVAS, "img => img.getAttribute('src')"))
            other.screenshot(path=os.path.join(ARTIFACTS, "browser_session_other_tab.png"), full_page=True)
        finally:
            browser.close()

    assert offered >= 3, "no files were offered after 'Prepare downloads'"
    assert after_edit == 0, "the offered files stayed after the masks changed"
    assert restored.shape == before.shape == (768, 1024, 3)
    assert np.abs(restored - before).mean() < 3.0, "the restored overlay differs from the one before the reload"
    assert labels_after == labels_before and len(labels_after) == 2, (labels_before, labels_after)
    assert "Object 2" in status_after and "2 foreground" in status_after, status_after
    assert status_before.split("\n")[0] in status_after
    assert candidates == 3
    assert not other_has_canvas


def _video_frames(n: int, w: int = 240, h: int = 160):
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = np.linspace(80, 190, w, dtype=np.uint8)[None, :, None]
        img[40:100, 30 + 12 * i: 90 + 12 * i] = (210, 50, 40)
        yield img


def _click_video(page, x: int, y: int, clip_width: int) -> None:
    """Click clip pixel (x, y) on the (enlarged, letterboxed) frame; wait for the new frame."""
    canvas = page.locator("#video-canvas img")
    old = canvas.get_attribute("src")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    natural_w, natural_h = canvas.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    zoom = natural_w / clip_width
    dx, dy = (x + 0.5) * zoom - 0.5, (y + 0.5) * zoom - 0.5
    r = min(box["width"] / natural_w, box["height"] / natural_h, 1.0)
    page.mouse.click(box["x"] + (box["width"] - natural_w * r) / 2 + (dx + 0.5) * r,
                     box["y"] + (box["height"] - natural_h * r) / 2 + (dy + 0.5) * r)
    page.wait_for_function(
        "(old) => { const i = document.querySelector('#video-canvas img'); return i && i.src !== old; }",
        arg=old, timeout=120_000)


@pytest.mark.slow
def test_reload_restores_the_video_session_with_its_tracked_masks(tmp_path):
    from sam2.media.mp4 import write_mp4

    os.makedirs(ARTIFACTS, exist_ok=True)
    clip = write_mp4(str(tmp_path / "red_box.mp4"), _video_frames(3), fps=6)
    env = hf_cache_env(str(tmp_path / "hf"))
    with AppProcess(["--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(app.url, wait_until="load", timeout=120_000)
            page.get_by_role("tab", name="Video").click(timeout=120_000)
            page.locator("#video-upload input[type=file]").set_input_files(clip)
            _wait_text(page, "#video-status", "Ready", timeout=240_000)
            _click_video(page, 60, 70, 240)
            _wait_text(page, "#video-status", "1 foreground")
            page.locator("#video-direction").get_by_text("Forward", exact=True).click()
            page.locator("#video-track").click()
            _wait_text(page, "#video-status", "Preview ready", timeout=300_000)
            page.locator("#video-export").click()
            _wait_text(page, "#video-status", "files ready", timeout=120_000)
            page.wait_for_function("() => document.querySelectorAll('#video-files tbody tr').length > 0")
            offered = _offered_files(page, "#video-files")
            preview_before = page.locator("#video-preview video").count()

            # a correction (background click beside the box) takes the files and the preview away
            page.locator("#video-click-mode").get_by_text("Background point", exact=True).click()
            _click_video(page, 150, 130, 240)
            _wait_text(page, "#video-status", "1 background")
            page.wait_for_timeout(500)
            offered_after = _offered_files(page, "#video-files")
            preview_after = page.locator("#video-preview video").count()
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_video_corrected.png"), full_page=True)

            page.locator("#video-next").click()
            _wait_text(page, "#video-status", "Frame 1 of")
            page.wait_for_timeout(300)
            before = _fetch(page, "#video-canvas img")
            objects_before = _object_labels(page, "#video-objects")

            page.reload(wait_until="load")
            page.get_by_role("tab", name="Video").click(timeout=60_000)
            _wait_text(page, "#video-status", "Restored after the page reload", timeout=60_000)
            page.wait_for_timeout(500)
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_video_reloaded.png"), full_page=True)
            status = page.inner_text("#video-status")
            restored = _fetch(page, "#video-canvas img")
            objects_after = _object_labels(page, "#video-objects")
            legend = page.inner_text("#video-legend")
            slider = page.locator("#video-frame input[type=number]").input_value()
        finally:
            browser.close()

    assert offered == 4 and preview_before == 1
    assert offered_after == 0 and preview_after == 0, (offered_after, preview_after)
    assert "Frame 1 of" in status and "3/3 frames with masks" in status, status
    assert objects_after == objects_before and len(objects_after) == 1
    assert "Object 1" in legend and "px" in legend
    assert slider == "1"
    assert restored.shape == before.shape and np.abs(restored - before).mean() < 3.0
