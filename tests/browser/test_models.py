"""The model dropdown in a real headless Chromium, without the Hub (issue 13).

The app starts with a local ``--checkpoint`` for tiny, offline, with an empty cache: the
dropdown marks the other models as unavailable; picking one shows a short toast, the
dropdown goes back to tiny, the picture and the click stay, and the next click works.
Screenshots are kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os

import pytest

from tests.support.browser import (ARTIFACTS, CANVAS, app_and_browser, click_pixel, open_page,
                                   screen_of_pixel, upload_image, wait_text)


def _wait_status(page, text: str, timeout: int = 120_000) -> None:
    wait_text(page, "#image-status", text, timeout=timeout)


playwright_api = pytest.importorskip("playwright.sync_api")

# slow: two app starts plus Chromium; the same behaviour is checked through gradio_client in
# test_app_offline.py in the default run.
pytestmark = pytest.mark.slow

DROPDOWN = "#model-select input"


def test_failed_switch_in_the_page_returns_to_the_working_model(tmp_path, tiny_checkpoint):
    home = str(tmp_path / "hf_home")
    env = {"HF_HOME": home, "HF_HUB_CACHE": os.path.join(home, "hub"), "HF_HUB_OFFLINE": "1"}
    args = ["--no-video", "--device", "cpu", "--model", "tiny", "--checkpoint", tiny_checkpoint]
    with app_and_browser(args, env) as (app, browser):
        page = open_page(browser, app.url)
        upload_image(page)
        _wait_status(page, "Ready", timeout=180_000)
        click_pixel(page, 230, 260)
        _wait_status(page, "1 foreground")
        assert page.input_value(DROPDOWN) == "SAM 2.1 · tiny"

        page.click(DROPDOWN)
        options = page.locator("[data-testid=dropdown-option]")
        options.first.wait_for(timeout=30_000)
        labels = [options.nth(i).get_attribute("aria-label") for i in range(options.count())]
        assert "SAM 2.1 · tiny" in labels and "SAM 2.1 · small — unavailable offline" in labels, labels
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_models_dropdown.png"), full_page=True)
        page.locator("[data-testid=dropdown-option][aria-label^='SAM 2.1 · small']").click()

        _wait_status(page, "Still using SAM 2.1 · tiny", timeout=30_000)
        page.wait_for_function(
            "(sel) => document.querySelector(sel)?.value === 'SAM 2.1 · tiny'", arg=DROPDOWN, timeout=30_000)
        toast = page.get_by_text("SAM 2.1 · small is unavailable").first
        toast.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_models_failed_switch.png"), full_page=True)
        # One toast, although Gradio's dropdown sends the pick twice.
        assert page.locator(".toast-body").count() == 1
        status = page.inner_text("#image-status")
        assert "--checkpoint" in status and "/tmp" not in status and home not in status
        # The picture and its candidates stay; no error badge on them.
        assert page.eval_on_selector(f"{CANVAS} .sc-root", "r => r.__canvas.W") == 1024
        assert page.locator(f"{CANVAS} .sc-chip").count() == 3
        assert page.locator("#image-canvas").get_by_text("Error").count() == 0

        click_pixel(page, 800, 560)
        _wait_status(page, "2 foreground")
        assert "SAM 2.1 · tiny" in page.inner_text("#image-status")
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_models_click_after.png"), full_page=True)


def test_first_run_without_the_hub_keeps_the_picture_and_says_why(tmp_path):
    import time

    home = str(tmp_path / "hf_home")
    env = {"HF_HOME": home, "HF_HUB_CACHE": os.path.join(home, "hub"), "HF_HUB_OFFLINE": "1"}
    with app_and_browser(["--no-video", "--device", "cpu"], env) as (app, browser):
        page = open_page(browser, app.url)
        page.wait_for_selector(f"{CANVAS} .sc-root[data-ready='1']", timeout=60_000)
        assert "is unavailable" in page.inner_text("body")  # the header says it before any upload
        upload_image(page)
        _wait_status(page, "is unavailable", timeout=30_000)
        sx, sy = screen_of_pixel(page, 230, 260)
        # The answer to the click is a hint on the picture (and the status line keeps the same
        # words); the click's provisional mark goes.
        page.eval_on_selector(f"{CANVAS} .sc-root", "r => { r.dataset.hint = ''; }")
        t0 = time.perf_counter()
        page.mouse.click(sx, sy)
        page.wait_for_function(f"() => (document.querySelector('{CANVAS} .sc-root').dataset.hint || '')"
                               ".includes('unavailable')", timeout=30_000)
        page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.pending.length === 0",
                               timeout=30_000)
        answered_s = time.perf_counter() - t0
        page.wait_for_timeout(800)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_models_no_hub_click.png"), full_page=True)
        status = page.inner_text("#image-status")
        assert "--checkpoint" in status and "download_ckpts.sh" in status and home not in status
        assert "Image loaded" not in status
        assert answered_s < 5.0, answered_s
        # The picture stays, without an error badge.
        assert page.eval_on_selector(f"{CANVAS} .sc-root", "r => r.__canvas.W") == 1024
        assert page.locator("#image-canvas").get_by_text("Error").count() == 0
