"""Segment everything in a real headless Chromium: the largest slider settings show their
reduction and a "batch i of n" progress, and the Cancel button stops the run. Screenshots
are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil

import pytest

from ui.testing import REPO_ROOT, AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")
ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


def _set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.scroll_into_view_if_needed()
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_progress_and_cancel_in_the_page(tmp_path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    env = hf_cache_env(str(tmp_path / "hf"))
    with AppProcess(["--no-video", "--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(app.url, wait_until="load", timeout=120_000)
            page.wait_for_selector("#image-upload input[type=file]", state="attached", timeout=60_000)
            page.set_input_files("#image-upload input[type=file]", SHAPES)
            page.wait_for_function(
                "() => (document.querySelector('#image-status')?.innerText || '').includes('Ready')", timeout=180_000)
            page.get_by_text("Segment everything (automatic mask generator)").click()
            _set_slider(page, "image-pps", 64)
            _set_slider(page, "image-crops", 2)
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
        finally:
            browser.close()
