"""Segment everything in a real headless Chromium: the largest slider settings show their
reduction and a "batch i of n" progress, and the Cancel button stops the run. Screenshots
are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os

import pytest

from tests.support.browser import ARTIFACTS, app_and_browser, open_page, set_slider, upload_image
from tests.support.hub_cache import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow


def test_progress_and_cancel_in_the_page(tmp_path):
    env = hf_cache_env(str(tmp_path / "hf"))
    with app_and_browser(["--no-video", "--device", "cpu"], env) as (app, browser):
        page = open_page(browser, app.url, height=1400)
        upload_image(page)
        page.wait_for_function(
            "() => (document.querySelector('#image-status')?.innerText || '').includes('Ready')", timeout=180_000)
        page.get_by_text("Segment everything (automatic mask generator)").click()
        set_slider(page, "image-pps", 64)
        set_slider(page, "image-crops", 2)
        assert "about 2,048 prompts" in page.inner_text("#image-everything-limit")
        page.locator("#image-everything").click()
        page.wait_for_function("() => /batch \\d+ of 21/.test(document.body.innerText)", timeout=240_000)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_everything_progress.png"), full_page=True)
        page.locator("#image-everything-cancel").click()
        page.wait_for_function(
            "() => (document.querySelector('#image-everything-status')?.innerText || '').includes('cancelled')",
            timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_everything_cancelled.png"), full_page=True)
        status = page.inner_text("#image-everything-status")
        assert "Segment everything cancelled" in status and "of 21 batches" in status
        assert "/tmp" not in page.inner_text("body")
