"""The image tab's "Find objects" in a real headless Chromium: type words, press Find, see
one labelled object per box in the list, the count in the status and the masks on the
canvas with a label chip each. The detector is a seeded random miniature Grounding DINO (``sam2.find.testing``);
the screenshot is kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.support.hub_cache import REPO_ROOT, AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("transformers")

from tests.support.browser import (ARTIFACTS, CANVAS, CHROMIUM, CHROMIUM_ARGS, fetch_shown, upload_image,  # noqa: E402
                                   wait_text)


def _fetch_image(page):
    return fetch_shown(page)


def _wait_status(page, text, timeout=120_000):
    wait_text(page, "#image-status", text, timeout=timeout)

STREET = os.path.join(REPO_ROOT, "examples", "street.jpg")  # 1200 x 800



@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_typing_a_query_adds_labelled_objects(tmp_path):
    from sam2.find.testing import save_random_grounding_dino

    os.makedirs(ARTIFACTS, exist_ok=True)
    env = hf_cache_env(str(tmp_path / "hf"))
    env["SAM2_FIND_DETECTOR"] = save_random_grounding_dino(str(tmp_path / "gdino"), ["car", "person"])
    with AppProcess(["--no-video", "--device", "cpu"], env) as app, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(app.url, wait_until="load", timeout=120_000)
            upload_image(page, STREET)
            _wait_status(page, "Ready", timeout=180_000)
            before = _fetch_image(page)

            page.click("#image-find .label-wrap")  # Find is collapsed until opened
            page.wait_for_selector("#image-find-text", state="visible", timeout=10_000)
            page.wait_for_timeout(500)  # the panel's inputs are wired once it has opened
            threshold = page.locator("#image-find-threshold input[type=number]")
            threshold.fill("0.95")
            threshold.press("Enter")
            page.wait_for_function("() => document.querySelector('#image-find-threshold input[type=range]')"
                                   ".value === '0.95'", timeout=10_000)
            box = page.locator("#image-find-text textarea, #image-find-text input").first
            box.click()
            page.keyboard.type("car, person")
            page.click("#image-find-button")
            _wait_status(page, "Found", timeout=180_000)
            page.wait_for_timeout(500)
            page.locator("#image-find").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(ARTIFACTS, "browser_image_find.png"), full_page=True)
            status = page.inner_text("#image-status")
            names = page.locator("#image-objects label").all_inner_texts()
            after = _fetch_image(page)
            tags = page.eval_on_selector(f"{CANVAS} .sc-root", "r => r.dataset.tags || ''").split("|")
        finally:
            browser.close()

    assert "score >= 0.95" in status, status
    labelled = [n for n in names if ": car " in n or ": person " in n]
    assert len(labelled) == len(names) >= 2, names
    # The count in the status is the number of objects in the list.
    cars = sum(": car " in n for n in names)
    assert f"{cars} car" in status, (status, names)
    # Each found object has its label chip on the picture ("car 0.97").
    assert len(tags) == len(names) and all(t.split(" ")[0] in ("car", "person") for t in tags), (tags, names)
    changed = np.abs(after - before).sum(axis=-1) > 40
    assert changed.mean() > 0.01, "no mask was drawn on the canvas"
