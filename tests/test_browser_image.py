"""The image tab in a real headless Chromium: upload, click on the picture, see the overlay
change where the click was; then a box by two clicks. Screenshots are kept in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import io
import os
import shutil

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
OBJECT_1_RGB = np.array([30, 144, 255])  # ui.overlay.PALETTE[0]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]

# Screen position of an image pixel in an <img> drawn with object-fit: contain (letterboxed).
_TO_SCREEN = """([img, x, y]) => {
  const r = img.getBoundingClientRect();
  const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const ox = (r.width - img.naturalWidth * s) / 2, oy = (r.height - img.naturalHeight * s) / 2;
  return [r.left + ox + (x + 0.5) * s, r.top + oy + (y + 0.5) * s];
}"""


def _fetch_image(page) -> np.ndarray:
    body = page.request.get(page.eval_on_selector(CANVAS, "img => img.src")).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(np.int16)


def _click_pixel(page, x: int, y: int) -> None:
    """Click image pixel (x, y) and wait until the canvas shows the new overlay."""
    old = page.eval_on_selector(CANVAS, "img => img.src")
    page.locator(CANVAS).scroll_into_view_if_needed()
    sx, sy = page.evaluate(_TO_SCREEN, [page.query_selector(CANVAS), x, y])
    page.mouse.click(sx, sy)
    page.wait_for_function(
        "(old) => { const i = document.querySelector('#image-canvas img'); return i && i.src !== old; }",
        arg=old, timeout=120_000)


def _wait_status(page, text: str, timeout: int = 120_000) -> None:
    page.wait_for_function(
        "(t) => (document.querySelector('#image-status')?.innerText || '').includes(t)", arg=text, timeout=timeout)


def test_click_on_the_image_draws_the_mask_there(tmp_path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    env = hf_cache_env(str(tmp_path / "hf"))
    with AppProcess(["--no-video", "--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(app.url, wait_until="load", timeout=120_000)
            page.wait_for_selector("#image-upload input[type=file]", state="attached", timeout=60_000)
            page.set_input_files("#image-upload input[type=file]", SHAPES)
            page.wait_for_selector(CANVAS, timeout=120_000)
            _wait_status(page, "Ready", timeout=180_000)  # model loaded and image encoded after upload
            before = _fetch_image(page)

            x, y = 230, 260  # inside the red disc
            _click_pixel(page, x, y)
            _wait_status(page, "1 foreground")
            page.wait_for_timeout(300)
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_image_click.png"), full_page=True)
            after = _fetch_image(page)
            assert page.locator("#image-candidates img").count() == 3
            status = page.inner_text("#image-status")
            assert "mask" in status and "1024×768" in status

            # Box mode: the first click sets a corner, the second draws the box.
            page.get_by_label("Box (click two corners)").check()
            _click_pixel(page, 470, 90)
            _wait_status(page, "opposite corner")
            _click_pixel(page, 780, 330)
            _wait_status(page, "box")
            page.wait_for_timeout(300)
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_image_box.png"), full_page=True)
            boxed = _fetch_image(page)
        finally:
            browser.close()

    assert after.shape == before.shape == (768, 1024, 3)
    # The overlay changed around the click, and the green foreground marker sits on it.
    changed = np.abs(after - before).sum(axis=-1) > 40
    assert changed[y - 12:y + 13, x - 12:x + 13].mean() > 0.3, "the overlay did not change at the click"
    patch = after[y - 2:y + 3, x - 2:x + 3]
    green = (patch[..., 1] > 150) & (patch[..., 0] < 100) & (patch[..., 2] < 130)
    assert green.mean() > 0.5, f"no foreground marker at the click: {patch[2, 2]}"
    # The box's left edge is drawn in the object's colour at x = 470.
    edge = boxed[200, 466:475]
    assert (np.abs(edge - OBJECT_1_RGB).sum(axis=1) < 120).any(), edge
