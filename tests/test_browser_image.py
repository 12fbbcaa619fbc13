"""The image tab in a real headless Chromium: upload, click on the picture, see the overlay
change where the click was; then a box by two clicks. Screenshots are kept in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.browser_support import (ARTIFACTS, CANVAS, CHROMIUM, app_and_browser, click_pixel, fetch_shown, open_page,
                                   upload_image, wait_text)
from ui.testing import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

OBJECT_1_RGB = np.array([30, 144, 255])  # ui.overlay.PALETTE[0]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


def _wait_status(page, text: str, timeout: int = 120_000) -> None:
    wait_text(page, "#image-status", text, timeout=timeout)


def test_click_on_the_image_draws_the_mask_there(tmp_path):
    env = hf_cache_env(str(tmp_path / "hf"))
    with app_and_browser(["--no-video", "--device", "cpu"], env) as (app, browser):
        page = open_page(browser, app.url)
        upload_image(page)
        page.wait_for_selector(CANVAS, timeout=120_000)
        _wait_status(page, "Ready", timeout=180_000)  # model loaded and image encoded after upload
        before = fetch_shown(page)

        x, y = 230, 260  # inside the red disc
        click_pixel(page, x, y)
        _wait_status(page, "1 foreground")
        page.wait_for_timeout(300)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_image_click.png"), full_page=True)
        after = fetch_shown(page)
        assert page.locator("#image-candidates img").count() == 3
        status = page.inner_text("#image-status")
        assert "mask" in status and "1024×768" in status

        # Box mode: the first click sets a corner, the second draws the box.
        page.get_by_label("Box (click two corners)").check()
        click_pixel(page, 470, 90)
        _wait_status(page, "opposite corner")
        click_pixel(page, 780, 330)
        _wait_status(page, "box")
        page.wait_for_timeout(300)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_image_box.png"), full_page=True)
        boxed = fetch_shown(page)

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
