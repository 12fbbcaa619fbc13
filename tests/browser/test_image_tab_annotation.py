"""The real image tab in headless Chromium (issue #22): "ready before the first click" (a new
picture is encoded as soon as it arrives, the canvas says "Preparing image…" meanwhile, a
click made then is answered once the embedding is there, and the first click after that costs
a decoder run, not an encode), and the eraser correcting a real mask, through a later click
and into the downloads, and Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y over Clear all.

The app runs as a user starts it (``python app.py --no-video``) with SAM 2.1 tiny random
weights in a private Hugging Face cache. Screenshots: test-artifacts/canvas22_app_*.png.
"""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.hub_cache import AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(REPO, "test-artifacts")
CANVAS = "#image-canvas"

pytestmark = pytest.mark.slow  # the browser marker and the Chromium skip: tests/browser/conftest.py


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """``python app.py --no-video`` in a child process, offline, with random tiny weights in a
    private cache; its URL (the app's log is printed when the module ends)."""
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf")))
    with AppProcess(["--no-video", "--device", "cpu"], env) as app:
        yield app.url
        print(app.log()[-3000:])


@pytest.fixture
def page(app_url):
    os.makedirs(ARTIFACTS, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(app_url, wait_until="load", timeout=120_000)
        pg.wait_for_selector(f"{CANVAS} .sc-root[data-ready='1']", timeout=120_000)
        yield pg
        browser.close()
        assert not errors, errors


def _picture(folder) -> str:
    """An 1800x1200 photo-like picture (the issue's size): shapes on a gradient, with noise."""
    rng = np.random.default_rng(0)
    h, w = 1200, 1800
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([60 + 80 * xx / w, 70 + 60 * yy / h, np.full((h, w), 110.0)], -1)
    img[((xx - 500) ** 2 + (yy - 500) ** 2) < 220 ** 2] = (210, 50, 40)
    img[(abs(xx - 1250) < 250) & (abs(yy - 700) < 200)] = (40, 190, 90)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    path = os.path.join(str(folder), "photo_1800x1200.jpg")
    Image.fromarray(img).save(path, quality=90)
    return path


def _scene(page, expr):
    return page.eval_on_selector(f"{CANVAS} .sc-root", f"root => {{ const S = root.__canvas; return {expr}; }}")


def _click(page, x, y):
    sx, sy = page.eval_on_selector(f"{CANVAS} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [x, y])
    page.mouse.click(sx, sy)


def _decode_ms(page) -> float:
    found = re.search(r"decode (\d+) ms", page.inner_text("#image-status"))
    return float(found.group(1)) if found else float("nan")


def test_new_picture_is_encoded_at_once_and_a_click_meanwhile_is_answered_after(page, tmp_path):
    page.locator(f"{CANVAS} .sc-file").set_input_files(_picture(tmp_path))
    page.wait_for_selector(f"{CANVAS} .sc-root[data-preparing='1']", timeout=120_000)
    page.locator(f"{CANVAS} .sc-canvas").scroll_into_view_if_needed()
    assert page.inner_text(f"{CANVAS} .sc-prep-text").startswith("Preparing image…")
    page.screenshot(path=os.path.join(ARTIFACTS, "canvas22_app_preparing.png"))
    # A click while the picture is being prepared: a provisional mark now, the mask after.
    _click(page, 500, 500)
    assert _scene(page, "S.pending.length") == 1
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= 1",
                           timeout=300_000)
    page.wait_for_function(f"() => !document.querySelector('{CANVAS} .sc-root').dataset.preparing",
                           timeout=60_000)
    assert _scene(page, "Object.keys(S.masks[0] || {}).length") == 1
    assert "encode" in page.inner_text("#image-status")  # it was encoded once, before the click
    page.screenshot(path=os.path.join(ARTIFACTS, "canvas22_app_after_first_click.png"))


def test_first_click_after_the_picture_is_ready_costs_a_decode_only(page, tmp_path):
    page.locator(f"{CANVAS} .sc-file").set_input_files(_picture(tmp_path))
    page.wait_for_selector(f"{CANVAS} .sc-root[data-preparing='1']", timeout=120_000)
    page.wait_for_function(f"() => !document.querySelector('{CANVAS} .sc-root').dataset.preparing",
                           timeout=300_000)
    page.wait_for_function("() => (document.querySelector('#image-status')?.innerText || '').includes('Ready')",
                           timeout=60_000)
    times = []
    for i, (x, y) in enumerate(((500, 500), (1250, 700), (520, 430))):
        if i == 1:
            page.keyboard.press("n")  # each click starts its own object: the same work per click
        _click(page, x, y)
        page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= {i + 1}",
                               timeout=120_000)
        page.wait_for_timeout(100)
        times.append(_scene(page, f"S.stats[{i}].ms"))
    encode_s = float(re.search(r"encode (\d+\.\d+) s", page.inner_text("#image-status")).group(1))
    # The first click was not an encode: it took well under the encode time, like the others.
    assert times[0] < 1000 * encode_s, (times, encode_s)
    assert times[0] <= 3.0 * max(times[1:]), times  # loose: the machine is shared


def test_brush_stroke_changes_the_real_mask_survives_a_click_and_reaches_the_export(page, tmp_path):
    page.locator(f"{CANVAS} .sc-file").set_input_files(_picture(tmp_path))
    page.wait_for_selector(f"{CANVAS} .sc-root[data-preparing='1']", timeout=120_000)
    page.wait_for_function(f"() => !document.querySelector('{CANVAS} .sc-root').dataset.preparing",
                           timeout=300_000)
    page.locator(f"{CANVAS} .sc-canvas").scroll_into_view_if_needed()
    _click(page, 500, 500)
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= 1",
                           timeout=120_000)
    area = lambda: int(re.search(r"([\d,]+) px", page.inner_text("#image-status")).group(1).replace(",", ""))  # noqa: E731
    before = area()
    # Erase a band across the picture's middle with a big eraser: the mask loses pixels.
    page.keyboard.press("e")
    for _ in range(4):
        page.keyboard.press("]")
    ax, ay = page.eval_on_selector(f"{CANVAS} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [2, 600])
    bx, by = page.eval_on_selector(f"{CANVAS} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [1797, 600])
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move(bx, by, steps=20)
    page.mouse.up()
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= 2",
                           timeout=120_000)
    page.wait_for_timeout(200)
    erased = area()
    assert erased < before, (before, erased)
    page.screenshot(path=os.path.join(ARTIFACTS, "canvas22_app_eraser.png"))
    # Back to clicks: a new click decodes again and the erased band stays erased.
    page.keyboard.press("Escape")
    _click(page, 450, 420)
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= 3",
                           timeout=120_000)
    page.wait_for_timeout(200)
    row = _scene(page, """(() => {
        const m = S.masks[0][S.selected].img, c = document.createElement('canvas');
        c.width = m.naturalWidth; c.height = m.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(m, 0, 0);
        const y = Math.round(600 / S.H * c.height);
        const d = g.getImageData(0, y, c.width, 1).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n; })()""")
    assert row == 0, f"{row} mask pixels on the erased row after a click"
    final = area()
    # The downloads hold the corrected mask (same pixel count as the status line says).
    page.locator("#image-export").click()
    page.wait_for_selector("#image-files a", timeout=120_000)
    href = [h for h in page.eval_on_selector_all("#image-files a", "as => as.map(a => a.href)") if "_mask.png" in h][0]
    mask = np.asarray(Image.open(io.BytesIO(page.request.get(href).body())).convert("L")) > 127
    assert not mask[598:603].any() and int(mask.sum()) == final


def test_ctrl_z_brings_back_what_clear_all_removed_and_ctrl_shift_z_clears_again(page, tmp_path):
    page.locator(f"{CANVAS} .sc-file").set_input_files(_picture(tmp_path))
    page.wait_for_selector(f"{CANVAS} .sc-root[data-preparing='1']", timeout=120_000)
    page.wait_for_function(f"() => !document.querySelector('{CANVAS} .sc-root').dataset.preparing",
                           timeout=300_000)
    page.locator(f"{CANVAS} .sc-canvas").scroll_into_view_if_needed()
    _click(page, 500, 500)
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').__canvas.stats.length >= 1",
                           timeout=120_000)
    masks = lambda: _scene(page, "Object.values(S.masks[0] || {}).filter(m => m && m.url).length")  # noqa: E731
    assert masks() == 1
    page.locator("#image-clear").click()
    page.wait_for_function(f"() => Object.keys(document.querySelector('{CANVAS} .sc-root').__canvas.masks[0] || {{}})"
                           ".length === 0", timeout=60_000)
    sx, sy = page.eval_on_selector(f"{CANVAS} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [900, 900])
    page.mouse.move(sx, sy)  # keys go to the canvas under the pointer
    page.keyboard.press("Control+z")
    page.wait_for_function(f"() => Object.keys(document.querySelector('{CANVAS} .sc-root').__canvas.masks[0] || {{}})"
                           ".length === 1", timeout=60_000)
    assert "Undone" in page.inner_text("#image-status")
    page.screenshot(path=os.path.join(ARTIFACTS, "canvas22_app_undo_clear_all.png"))
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function(f"() => Object.keys(document.querySelector('{CANVAS} .sc-root').__canvas.masks[0] || {{}})"
                           ".length === 0", timeout=60_000)
    page.keyboard.press("Control+y")  # nothing left to redo: a hint, nothing changes
    page.wait_for_function("() => (document.querySelector('#image-status')?.innerText || '').includes('Nothing to redo')",
                           timeout=60_000)
