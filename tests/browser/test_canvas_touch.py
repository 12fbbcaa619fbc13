"""Touch and the brush's wheel size on PromptCanvas in headless Chromium (issue #22): two
fingers pinch-zoom around their midpoint and pan as they move, without sending a click or a
box; Alt+wheel sizes the brush. Touches are real touch events (the DevTools protocol's
``Input.dispatchTouchEvent`` on a touch-enabled page), as a phone or tablet sends them."""

from __future__ import annotations

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.browser import canvas_demo as served_demo  # noqa: E402
from tests.browser.canvas_demo import IMG  # noqa: E402

app, browser, page = served_demo.app, served_demo.browser, served_demo.page  # the served demo's fixtures


def _screen(page, x, y):
    return tuple(page.eval_on_selector(f"{IMG} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [x, y]))


def _image(page, sx, sy):
    return tuple(page.eval_on_selector(f"{IMG} .sc-root", "(r, [a, b]) => r.__toImage(a, b)", [sx, sy]))


def _zoom(page):
    return page.eval_on_selector(f"{IMG} .sc-root", "r => r.__view()")["z"]


@pytest.fixture
def touch_page(app, browser):
    demo, url = app
    demo.recorder.events.clear()
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000}, has_touch=True)
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url, wait_until="load", timeout=60_000)
    pg.wait_for_selector(f"{IMG} .sc-root[data-state=ready]", timeout=60_000)
    pg.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    yield pg, ctx.new_cdp_session(pg)
    ctx.close()
    assert not errors, errors


def _touch(cdp, kind, points):
    cdp.send("Input.dispatchTouchEvent", {
        "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})


def test_two_fingers_pinch_zoom_around_their_midpoint_and_pan_without_a_click(app, touch_page):
    demo, _ = app
    page, cdp = touch_page
    mx, my = _screen(page, 900, 600)
    under = _image(page, mx, my)  # the picture pixel between the fingers
    z0 = _zoom(page)
    # Spread from 80 px apart to 240 px apart around the same midpoint: about 3x.
    fingers = lambda half: [(mx - half, my), (mx + half, my)]  # noqa: E731
    _touch(cdp, "touchStart", fingers(40))
    for half in range(50, 121, 10):
        _touch(cdp, "touchMove", fingers(half))
    page.wait_for_timeout(150)  # Chromium hands moves over once per frame
    z1 = _zoom(page)
    assert z1 / z0 == pytest.approx(3.0, rel=0.05), (z0, z1)
    still = _image(page, mx, my)
    assert abs(still[0] - under[0]) <= 1.0 and abs(still[1] - under[1]) <= 1.0, (under, still)
    # Both fingers move 50 px left and 30 px up: the picture follows them, the zoom stays.
    for step in range(1, 6):
        _touch(cdp, "touchMove", [(x - 10 * step, y - 6 * step) for x, y in fingers(120)])
    page.wait_for_timeout(150)
    _touch(cdp, "touchEnd", [])
    moved = _screen(page, *under)
    assert abs(moved[0] - (mx - 50)) < 1.5 and abs(moved[1] - (my - 30)) < 1.5, (mx, my, moved)
    assert _zoom(page) == pytest.approx(z1)
    page.wait_for_timeout(300)
    assert not demo.recorder.named("point") and not demo.recorder.named("box"), demo.recorder.events


def test_alt_wheel_sizes_the_brush_and_the_plain_wheel_still_zooms(app, page):
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    page.mouse.click(*_screen(page, 900, 600))  # an object to paint on (the demo answers a mask)
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.stats.length >= 1",
                           timeout=45_000)
    page.keyboard.press("b")
    assert page.eval_on_selector(f"{IMG} .sc-root", "r => r.dataset.tool") == "brush"
    size = lambda: page.eval_on_selector(f"{IMG} .sc-root", "r => r.__canvas.brushPx")  # noqa: E731
    z, before = _zoom(page), size()
    page.keyboard.down("Alt")
    for _ in range(3):
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(30)
    page.keyboard.up("Alt")
    bigger = size()
    assert bigger == pytest.approx(before * 1.15 ** 3, rel=0.03), (before, bigger)
    assert _zoom(page) == z  # Alt+wheel sized the brush only
    page.keyboard.down("Alt")
    page.mouse.wheel(0, 100)
    page.wait_for_timeout(30)
    page.keyboard.up("Alt")
    assert size() == pytest.approx(bigger / 1.15, rel=0.03)
    page.mouse.wheel(0, -120)
    page.wait_for_timeout(60)
    assert _zoom(page) > z
