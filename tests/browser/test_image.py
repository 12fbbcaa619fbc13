"""The image tab in a real headless Chromium, driven by real mouse and keyboard events on the
canvas (``ui.canvas.PromptCanvas``): left, right and Shift+click, a drag that draws a box,
every key, the bad inputs of issue #14 (a drag leaving the picture, a too-thin box, keys
with nothing there, a very wide picture), upload by drop, and the 390 px wide layout.
Screenshots are kept in test-artifacts/browser_image_*.png for a person to look at.

One app (random tiny weights) serves every test of this module: starting it and encoding
the picture is most of the cost.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import (ARTIFACTS, CANVAS, app_and_browser, click_pixel, drag_pixels,
                                   fetch_shown, open_page, screen_of_pixel, set_slider, upload_image, wait_text)
from tests.support.hub_cache import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

OBJECT_1_RGB = np.array([30, 144, 255])  # ui.canvas.raster.PALETTE[0]
ROOT = f"{CANVAS} .sc-root"
TOL = 2.5  # original pixels: one screen pixel is ~1.2 of them at 1400 px wide



@pytest.fixture(scope="module")
def served(tmp_path_factory):
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf")))
    with app_and_browser(["--no-video", "--device", "cpu"], env) as (app, browser):
        yield app, browser


def _page(served, width=1400, height=1100):
    app, browser = served
    page = open_page(browser, app.url, width, height)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def _status(page, text, timeout=120_000):
    wait_text(page, "#image-status", text, timeout=timeout)


def _scene(page, expr):
    return page.eval_on_selector(ROOT, f"root => {{ const S = root.__canvas; return {expr}; }}")


def _hover(page, x=500, y=380):
    page.mouse.move(*screen_of_pixel(page, x, y))


def _toasts(page) -> int:
    return page.locator(".toast-body").count()


def _shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"browser_image_{name}.png"), full_page=True)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_clicks_box_and_keys_on_the_picture(served):
    page = _page(served)
    upload_image(page)  # the canvas's own file input: what a click on the empty canvas opens
    _status(page, "Ready", timeout=180_000)  # model loaded and image encoded after the upload
    before = fetch_shown(page)

    # Left click: a foreground point where it was made, and its mask.
    x, y = 230, 260  # inside the red disc
    click_pixel(page, x, y)
    _status(page, "1 foreground / 0 background")
    pts = _scene(page, "S.prompts[0][1].points")
    assert len(pts) == 1 and abs(pts[0][0] - x) <= TOL and abs(pts[0][1] - y) <= TOL and pts[0][2] == 1, pts
    assert page.locator(f"{CANVAS} .sc-chip").count() == 3  # candidate chips 1 2 3
    after = fetch_shown(page)
    _shot(page, "click")
    status = page.inner_text("#image-status")
    assert "mask" in status and "1024×768" in status
    changed = np.abs(after - before).sum(axis=-1) > 40
    assert changed[y - 12:y + 13, x - 12:x + 13].mean() > 0.3, "the canvas did not change at the click"
    patch = after[y - 2:y + 3, x - 2:x + 3]
    marker = np.abs(patch - OBJECT_1_RGB).sum(axis=-1) < 60  # points are in their object's colour
    assert marker.mean() > 0.5, f"no foreground marker at the click: {patch[2, 2]}"

    # Right click and Shift+click: background points (no browser menu: the canvas takes it).
    click_pixel(page, 60, 60, button="right")
    _status(page, "1 foreground / 1 background")
    click_pixel(page, 980, 60, modifiers=["Shift"])
    _status(page, "1 foreground / 2 background")
    labels = [p[2] for p in _scene(page, "S.prompts[0][1].points")]
    assert labels == [1, 0, 0], labels

    # Z undoes the last point.
    _hover(page)
    page.keyboard.press("z")
    _status(page, "1 foreground / 1 background")

    # A drag draws a box (the rubber band while dragging, then the box).
    drag_pixels(page, 470, 90, 780, 330)
    _status(page, "box")
    box = _scene(page, "S.prompts[0][1].box")
    assert all(abs(a - b) <= TOL for a, b in zip(box, [470, 90, 780, 330])), box
    page.wait_for_timeout(300)
    _shot(page, "box")
    boxed = fetch_shown(page)
    edge = boxed[200, 466:475]  # the box's left edge, in the object's colour
    assert (np.abs(edge - OBJECT_1_RGB).sum(axis=1) < 120).any(), edge

    # 1 2 3 pick a candidate.
    _hover(page)
    page.keyboard.press("2")
    _status(page, "mask 2 of 3")
    page.keyboard.press("3")
    _status(page, "mask 3 of 3")
    assert _scene(page, "S.candidate") == 2

    # Esc drops a half-drawn box: nothing is sent.
    sx, sy = screen_of_pixel(page, 600, 500)
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 80, sy + 60, steps=5)
    page.keyboard.press("Escape")
    page.mouse.up()
    assert "Box dropped" in page.eval_on_selector(ROOT, "r => r.dataset.hint")
    page.wait_for_timeout(500)
    assert "1 background" in page.inner_text("#image-status")

    # N: a new object; a click gives it its own mask.
    page.keyboard.press("n")
    _status(page, "Object 2")
    click_pixel(page, 620, 210)  # the blue square
    _status(page, "(2 of 2)")
    assert _scene(page, "S.objects.length") == 2 and _scene(page, "S.selected") == 2

    # [ ] and Tab step through the objects.
    _hover(page)
    page.keyboard.press("[")
    _status(page, "(1 of 2)")
    page.keyboard.press("]")
    _status(page, "(2 of 2)")
    page.keyboard.press("Tab")
    _status(page, "(1 of 2)")

    # Delete removes the selected object.
    page.keyboard.press("Delete")
    page.wait_for_function("() => document.querySelector('#image-canvas .sc-root').__canvas.objects.length === 1")
    _status(page, "(1 of 1)")
    _shot(page, "keys")
    assert _toasts(page) == 0 and not page.errors, page.errors


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_bad_input_gets_hints_not_toasts(served, tmp_path):
    page = _page(served)
    # Keys with nothing there: hints on the canvas.
    page.wait_for_selector(f"{ROOT}[data-ready='1']", timeout=60_000)
    page.locator(ROOT).hover()
    page.keyboard.press("z")
    assert "Nothing to undo" in page.eval_on_selector(ROOT, "r => r.dataset.hint")
    page.keyboard.press("Delete")
    assert "Nothing selected" in page.eval_on_selector(ROOT, "r => r.dataset.hint")
    page.keyboard.press("1")
    assert "No candidate" in page.eval_on_selector(ROOT, "r => r.dataset.hint")

    upload_image(page)
    _status(page, "Ready", timeout=180_000)
    # A drag that leaves the picture: the box stops at its edge.
    drag_pixels(page, 900, 600, 1300, 1000)
    _status(page, "box")
    box = _scene(page, "S.prompts[0][1].box")
    assert abs(box[0] - 900) <= TOL and abs(box[1] - 600) <= TOL and box[2] == 1023 and box[3] == 767, box
    # A box too thin to be one: a hint, and it counts as a click (no prompt lost).
    drag_pixels(page, 300, 400, 600, 401)
    _status(page, "1 foreground")
    assert "too thin" in page.eval_on_selector(ROOT, "r => r.dataset.hint")
    assert _toasts(page) == 0

    # A very wide picture: shown whole, with a hint, clicks still map.
    wide = tmp_path / "wide.png"
    Image.fromarray(np.tile(np.linspace(40, 220, 3000, dtype=np.uint8)[None, :, None], (250, 1, 3))).save(wide)
    upload_image(page, str(wide))
    page.wait_for_function(f"() => (document.querySelector('{ROOT}').dataset.hint || '').includes('very wide')",
                           timeout=60_000)
    w, h = page.eval_on_selector(f"{CANVAS} .sc-canvas", "c => [c.clientWidth, c.clientHeight]")
    assert abs(w / h - 3000 / 250) < 0.2, (w, h)
    _status(page, "Ready", timeout=180_000)
    click_pixel(page, 2500, 125)
    pts = _scene(page, "S.prompts[0][1].points")
    assert abs(pts[0][0] - 2500) <= 8 and abs(pts[0][1] - 125) <= 8, pts
    _shot(page, "wide")
    assert _toasts(page) == 0 and not page.errors, page.errors


_DROP = """([sel, b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, {type: 'image/png'}));
    document.querySelector(sel + ' .sc-stage').dispatchEvent(
        new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


def test_upload_by_drop_at_390px_wide(served):
    page = _page(served, 390, 844)
    page.wait_for_selector(f"{ROOT}[data-ready='1']", timeout=60_000)
    buf = io.BytesIO()
    img = np.full((600, 900, 3), 70, np.uint8)
    img[150:450, 300:600] = (220, 60, 40)
    Image.fromarray(img).save(buf, "PNG")
    page.evaluate(_DROP, [CANVAS, base64.b64encode(buf.getvalue()).decode(), "dropped.png"])
    page.wait_for_function(f"() => document.querySelector('{ROOT}').__canvas.W === 900", timeout=60_000)
    _status(page, "Ready", timeout=180_000)
    r = page.eval_on_selector(f"{CANVAS} .sc-canvas", "c => { const r = c.getBoundingClientRect(); "
                                                      "return [r.left, r.right, r.width, r.height]; }")
    assert r[0] >= 0 and r[1] <= 390 and abs(r[2] / r[3] - 1.5) < 0.02, r  # fits, aspect kept
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 392  # no sideways scrolling
    click_pixel(page, 450, 300)
    pts = _scene(page, "S.prompts[0][1].points")
    assert abs(pts[0][0] - 450) <= 4 and abs(pts[0][1] - 300) <= 4, pts
    _shot(page, "390px")
    assert _toasts(page) == 0 and not page.errors, page.errors


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_segment_everything_regions_hover_pick_then_refine(served):
    page = _page(served, height=1400)
    upload_image(page)
    _status(page, "Ready", timeout=180_000)
    page.get_by_text("Segment everything (automatic mask generator)").click()
    set_slider(page, "image-pps", 4)
    set_slider(page, "image-iou-thresh", 0)
    set_slider(page, "image-stability-thresh", 0)
    page.locator("#image-everything").click()
    wait_text(page, "#image-everything-status", "found in", timeout=240_000)
    page.wait_for_function(f"() => document.querySelector('{ROOT}').__canvas.regions !== null", timeout=30_000)
    count = _scene(page, "S.regions.count")
    assert count >= 1
    # Hover: the region under the pointer is highlighted (its label in data-hover).
    spot = None
    for x, y in ((230, 260), (620, 210), (270, 560), (820, 560), (60, 60), (500, 700)):
        _hover(page, x, y)
        page.wait_for_timeout(150)
        if int(page.eval_on_selector(ROOT, "r => r.dataset.hover || '0'")) > 0:
            spot = (x, y)
            break
    assert spot is not None, "no region under any probe point"
    page.wait_for_timeout(200)
    _shot(page, "everything_hover")
    # Click: that region becomes an object, selected, and the regions go.
    page.mouse.click(*screen_of_pixel(page, *spot))
    _status(page, "is now Object")
    page.wait_for_function(f"() => document.querySelector('{ROOT}').__canvas.regions === null", timeout=30_000)
    assert _scene(page, "S.objects.length") == 1 and _scene(page, "Object.keys(S.masks[0]).length") == 1
    # A click refines it: the region's point plus this one.
    click_pixel(page, *spot)
    _status(page, "2 foreground")
    _shot(page, "everything_picked")
    assert _toasts(page) == 0 and not page.errors, page.errors


def test_an_example_opens_on_the_canvas(served):
    page = _page(served)
    page.wait_for_selector(f"{ROOT}[data-ready='1']", timeout=60_000)
    page.locator("button.gallery-item:has(img[src*='shapes'])").first.click()
    page.wait_for_function(f"() => document.querySelector('{ROOT}').__canvas.W === 1024", timeout=60_000)
    _status(page, "Ready", timeout=180_000)
    click_pixel(page, 230, 260)
    _status(page, "1 foreground")
    assert _toasts(page) == 0 and not page.errors, page.errors
