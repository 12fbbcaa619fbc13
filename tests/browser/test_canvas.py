"""PromptCanvas in a real headless Chromium, driven by real mouse and keyboard events.

The demo app (``ui.canvas.demo``: stand-in handlers, no model) runs in this process; its
``Recorder`` shows what reached Python. The picture is 1800x1200, shown downscaled, so the
coordinates checked here prove the display -> original mapping. Screenshots go to
test-artifacts/canvas_*.png for a person to look at.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import ARTIFACTS, canvas_pixel, canvas_screen
from ui.canvas import demo as canvas_demo

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.browser import canvas_demo as served_demo
from tests.browser.canvas_demo import IMG, VID, W, H

app, browser, page = served_demo.app, served_demo.browser, served_demo.page  # the served demo's fixtures
TOL = 2.0  # original pixels: one screen pixel is 1800 / 933 ~ 1.9 of them at 1200 px wide





_events = served_demo.recorded  # the demo's recorded events, waited for


_screen = canvas_screen  # original pixel (x, y) of the canvas ``sel`` -> screen
_pixel = canvas_pixel  # RGB on screen there: the overlay composited over the picture layer


def _state(page, sel, expr):
    return page.eval_on_selector(f"{sel} .sc-root", f"root => {{ const S = root.__canvas; return {expr}; }}")


def _wait_masks_drawn(page, sel, n):
    page.wait_for_function(f"() => document.querySelector('{sel} .sc-root').__canvas.stats.length >= {n}",
                           timeout=15_000)


def _shot(page, name, sel=None):
    path = os.path.join(ARTIFACTS, f"canvas_{name}.png")
    if sel:
        page.locator(sel).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=True)


def test_left_right_and_shift_clicks_arrive_in_original_pixels(app, page):
    demo, _ = app
    width = page.eval_on_selector(f"{IMG} .sc-canvas", "c => c.getBoundingClientRect().width")
    assert width < W / 1.5, "the 1800 px picture should be shown downscaled"
    page.evaluate("() => { window.__menus = 0; document.addEventListener('contextmenu', "
                  "e => { if (!e.defaultPrevented) window.__menus++; }); }")
    clicks = [((450, 480), {}, 1), ((1170, 420), {"button": "right"}, 0), ((900, 960), {"modifiers": ["Shift"]}, 0)]
    for i, ((x, y), kw, label) in enumerate(clicks):
        mods = kw.pop("modifiers", [])
        sx, sy = _screen(page, IMG, x, y)
        for m in mods:
            page.keyboard.down(m)
        page.mouse.click(sx, sy, **kw)
        for m in mods:
            page.keyboard.up(m)
        got = _events(demo, "point", i + 1)[i]
        assert abs(got["x"] - x) <= TOL and abs(got["y"] - y) <= TOL, (got, x, y)
        assert got["label"] == label and got["frame"] == 0
        _wait_masks_drawn(page, IMG, i + 1)
    assert page.evaluate("() => window.__menus") == 0, "the browser menu opened on right click"
    page.wait_for_timeout(100)
    _shot(page, "image_points", IMG)
    # Mask tinted in object 1's colour (dodger blue) around the first click; the markers on top.
    r, g, b = _pixel(page, IMG, 450 + 60, 480)
    assert b > r + 40, (r, g, b)
    # Markers in the object's colour (dodger blue), a disc for foreground, a square with a
    # white bar for background (tests/browser/test_canvas_zoom_colours.py checks the shapes).
    r, g, b = _pixel(page, IMG, 450 + 2, 480)
    assert b > 200 and r < 80, f"no foreground marker at the click: {(r, g, b)}"
    r, g, b = _pixel(page, IMG, 1170, 420 + 5)
    assert b > 200 and r < 80, f"no background marker at the right click: {(r, g, b)}"
    assert _state(page, IMG, "S.candidates.length") == 3


def test_drag_draws_a_rubber_band_then_a_box(app, page):
    demo, _ = app
    x0, y0, x1, y1 = 300, 200, 1300, 900
    sx0, sy0 = _screen(page, IMG, x0, y0)
    sx1, sy1 = _screen(page, IMG, x1, y1)
    page.mouse.move(sx0, sy0)
    page.mouse.down()
    page.mouse.move((sx0 + sx1) / 2, (sy0 + sy1) / 2, steps=4)
    page.mouse.move(sx1, sy1, steps=4)
    assert _state(page, IMG, "!!(S.drag && S.drag.box)")
    page.wait_for_timeout(50)
    _shot(page, "image_rubber_band", IMG)
    page.mouse.up()
    box = _events(demo, "box")[0]
    for k, v in zip(("x0", "y0", "x1", "y1"), (x0, y0, x1, y1)):
        assert abs(box[k] - v) <= TOL, (box, k, v)
    _wait_masks_drawn(page, IMG, 1)
    assert _state(page, IMG, "S.prompts[0][1].box.length") == 4
    _shot(page, "image_box", IMG)

    # A drag of 3 screen pixels is a click; a drag that leaves the picture is clamped, with a hint.
    page.mouse.move(sx0 + 100, sy0 + 100)
    page.mouse.down()
    page.mouse.move(sx0 + 103, sy0 + 101, steps=2)
    page.mouse.up()
    assert len(_events(demo, "point")) == 1 and len(demo.recorder.named("box")) == 1
    r = page.eval_on_selector(f"{IMG} .sc-canvas", "c => { const r = c.getBoundingClientRect(); return [r.right, r.bottom]; }")
    page.mouse.move(sx0 + 50, sy0 + 50)
    page.mouse.down()
    page.mouse.move(r[0] + 80, r[1] + 60, steps=5)
    assert "edge of the picture" in _state(page, IMG, "root.dataset.hint")
    page.mouse.up()
    box = _events(demo, "box", 2)[1]
    assert box["x1"] == W - 1 and box["y1"] == H - 1, box


def test_keys_emit_their_events_and_hint_when_nothing_is_there(app, page):
    demo, _ = app
    sx, sy = _screen(page, IMG, 900, 600)
    page.mouse.move(sx, sy)  # keys act while the pointer is over the canvas
    page.keyboard.press("Delete")
    assert "Nothing selected" in _state(page, IMG, "root.dataset.hint")
    page.keyboard.press("1")
    assert "No candidate" in _state(page, IMG, "root.dataset.hint")
    page.keyboard.press("Escape")
    assert "No box" in _state(page, IMG, "root.dataset.hint")
    page.keyboard.press("]")
    assert "No objects" in _state(page, IMG, "root.dataset.hint")
    assert demo.recorder.events == []

    page.mouse.click(sx, sy)
    _wait_masks_drawn(page, IMG, 1)
    page.keyboard.press("2")
    assert _events(demo, "candidate")[0]["index"] == 1
    page.keyboard.press("3")
    assert _events(demo, "candidate", 2)[1]["index"] == 2
    page.keyboard.press("z")
    assert _events(demo, "undo")[0]["object"] == 1
    page.keyboard.press("Control+z")  # Ctrl+Z: back one change of any kind (the history event)
    assert _events(demo, "history")[0]["step"] == -1
    page.keyboard.press("n")
    _events(demo, "new_object")
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.selected === 2")
    page.keyboard.press("[")
    assert _events(demo, "select_object")[0]["object"] == 1
    page.keyboard.press("]")
    assert _events(demo, "select_object", 2)[1]["object"] == 2
    page.keyboard.press("Tab")
    assert _events(demo, "select_object", 3)[2]["object"] == 1
    page.keyboard.press("Delete")
    assert _events(demo, "delete_object")[0]["object"] == 1

    # Esc drops a half-drawn box: nothing is sent.
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 80, sy + 60, steps=4)
    page.keyboard.press("Escape")
    page.mouse.up()
    page.wait_for_timeout(300)
    assert demo.recorder.named("box") == [] and len(demo.recorder.named("point")) == 1
    help_text = page.inner_text(f"{IMG} .sc-help")
    assert "Z: undo" in help_text and "N: new object" in help_text


def test_busy_and_loading_never_lose_a_click(app, page):
    demo, _ = app
    page.check("#demo-busy input")
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.busy !== ''")
    sx, sy = _screen(page, IMG, 600, 600)
    page.mouse.click(sx, sy)
    assert "tracking is running" in _state(page, IMG, "root.dataset.hint")
    page.uncheck("#demo-busy input")
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.busy === ''")
    assert demo.recorder.named("point") == []

    # A picture that takes a while to arrive: the click made meanwhile is sent once it is shown.
    jpeg = io.BytesIO()
    Image.fromarray(canvas_demo.sample_picture()).save(jpeg, "JPEG")

    held = []
    page.route("**/slow-picture.jpg", lambda route: held.append(route))  # answered after the click
    page.eval_on_selector(f"{IMG} .sc-root", "r => r.__apply({v: 1, picture: {url: '/slow-picture.jpg', "
                          f"width: {W}, height: {H}}}}})")
    assert _state(page, IMG, "root.dataset.state") == "loading"
    sx, sy = _screen(page, IMG, 450, 480)
    page.mouse.click(sx, sy)
    assert "Still loading" in _state(page, IMG, "root.dataset.hint")
    page.wait_for_timeout(300)
    assert demo.recorder.named("point") == [] and held
    held[0].fulfill(status=200, content_type="image/jpeg", body=jpeg.getvalue())
    got = _events(demo, "point", 1, timeout=20)[0]
    assert abs(got["x"] - 450) <= TOL and abs(got["y"] - 480) <= TOL


def test_segment_everything_hover_highlights_and_click_picks(app, page):
    demo, _ = app
    page.click("#demo-everything")
    page.wait_for_function(f"() => !!document.querySelector('{IMG} .sc-root').__canvas.regions")
    sx, sy = _screen(page, IMG, 1500, 900)  # the bottom-right region (index 2)
    page.mouse.move(sx, sy)
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').dataset.hover === '3'")
    page.wait_for_timeout(100)
    _shot(page, "everything_hover", IMG)
    r, g, b = _pixel(page, IMG, 1500, 900)
    assert min(r, g, b) > 180, "the hovered region is not highlighted"
    page.mouse.click(sx, sy)
    assert _events(demo, "pick_region")[0]["index"] == 2
    page.wait_for_function(f"() => !document.querySelector('{IMG} .sc-root').__canvas.regions")
    assert demo.recorder.named("point") == []


def test_upload_by_file_input_then_a_tall_picture_fits(app, page, tmp_path):
    demo, _ = app
    tall = np.zeros((2400, 300, 3), np.uint8)
    tall[:, :, 1] = 180
    path = tmp_path / "tall.png"
    Image.fromarray(tall).save(path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    page.set_input_files(f"{IMG} .sc-file", str(broken))
    page.wait_for_function(f"() => (document.querySelector('{IMG} .sc-root').dataset.hint || '').includes('Could not read')",
                           timeout=30_000)
    assert _state(page, IMG, "root.dataset.state") == "ready"  # the old picture takes clicks again
    page.set_input_files(f"{IMG} .sc-file", str(path))
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.H === 2400", timeout=30_000)
    page.wait_for_selector(f"{IMG} .sc-root[data-state=ready]")
    assert _events(demo, "upload", 2)[1]["name"] == "tall.png"
    w, h = page.eval_on_selector(f"{IMG} .sc-canvas", "c => [c.getBoundingClientRect().width, c.getBoundingClientRect().height]")
    assert h <= 0.76 * 1000 and abs(w / h - 300 / 2400) < 0.01, (w, h)
    sx, sy = _screen(page, IMG, 150, 2000)
    page.mouse.click(sx, sy)
    got = _events(demo, "point")[0]
    assert abs(got["x"] - 150) <= 6 and abs(got["y"] - 2000) <= 6, got
    _shot(page, "tall_upload", IMG)


_DROP_OR_PASTE = """([sel, how, b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, {type: name.endsWith('.png') ? 'image/png' : 'text/plain'}));
    const root = document.querySelector(sel + ' .sc-root');
    if (how === 'drop') root.querySelector('.sc-stage').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    else document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
}"""


def test_drop_and_paste_upload_and_a_wrong_file_gets_a_hint(app, page):
    demo, _ = app
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 500, 3), 90, np.uint8)).save(buf, "PNG")
    b64 = base64.b64encode(buf.getvalue()).decode()
    page.evaluate(_DROP_OR_PASTE, [IMG, "drop", base64.b64encode(b"hello").decode(), "notes.txt"])
    assert "not an image" in _state(page, IMG, "root.dataset.hint")
    page.evaluate(_DROP_OR_PASTE, [IMG, "drop", b64, "dropped.png"])
    assert _events(demo, "upload")[0]["name"] == "dropped.png"
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.W === 500", timeout=30_000)
    sx, sy = _screen(page, IMG, 100, 100)
    page.mouse.move(sx, sy)  # paste goes to the canvas under the pointer
    page.evaluate(_DROP_OR_PASTE, [IMG, "paste", b64, "pasted.png"])
    assert _events(demo, "upload", 2)[1]["name"] == "pasted.png"


def test_video_plays_masks_in_place_scrubs_and_seeks_from_the_timeline(app, page):
    demo, _ = app
    page.locator(VID).scroll_into_view_if_needed()
    assert "/gradio_api/file=" in _state(page, VID, "S.frames[0]")  # file_ref: served by Gradio
    page.click("#demo-track")
    page.wait_for_function(
        f"() => {{ const S = document.querySelector('{VID} .sc-root').__canvas; return Object.keys(S.masks).length === 10"
        " && Object.values(S.masks).every(m => m[1] && m[1].img.complete) && S.busy === ''; }", timeout=30_000)
    _shot(page, "video_timeline", VID)
    sx, sy = _screen(page, VID, 240, 135)
    page.mouse.move(sx, sy)
    page.keyboard.press("Space")
    assert _state(page, VID, "S.playing")
    page.wait_for_function(f"() => +document.querySelector('{VID} .sc-root').dataset.frame >= 4", timeout=10_000)
    _shot(page, "video_playing", VID)
    frame = _state(page, VID, "S.frame")
    # The square of this frame is drawn tinted with the object's colour (its mask, in place).
    cx = 40 + frame * 35 + 35
    r, g, b = _pixel(page, VID, cx, 135)
    assert b > r + 30, (frame, r, g, b)
    page.keyboard.press("Space")
    assert not _state(page, VID, "S.playing")
    paused_at = _state(page, VID, "S.frame")
    assert _events(demo, "seek")[-1]["index"] == paused_at
    page.wait_for_timeout(400)
    assert _state(page, VID, "S.frame") == paused_at
    if paused_at == 9:
        page.keyboard.press("Home")
        paused_at = 0
    page.keyboard.press("ArrowRight")
    assert _state(page, VID, "S.frame") == paused_at + 1
    page.keyboard.press("ArrowLeft")
    assert _state(page, VID, "S.frame") == paused_at

    # Scrub: drag the slider's thumb to the far right end -> last frame.
    box = page.locator(f"{VID} .sc-scrub").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => document.querySelector('{VID} .sc-root').dataset.frame === '9'")
    # Timeline: a click on the 3rd of 10 cells seeks to frame 2 and tells Python.
    tl = page.locator(f"{VID} .sc-timeline").bounding_box()
    n_seeks = len(demo.recorder.named("seek"))
    page.mouse.click(tl["x"] + tl["width"] * 0.25, tl["y"] + tl["height"] / 2)
    assert _events(demo, "seek", n_seeks + 1)[-1]["index"] == 2
    assert _state(page, VID, "S.frame") == 2
    # A click on this frame is a prompt for frame 2.
    sx, sy = _screen(page, VID, 40 + 2 * 35 + 35, 135)
    page.mouse.click(sx, sy)
    assert _events(demo, "point")[0]["frame"] == 2
    page.wait_for_timeout(300)
    _shot(page, "video_seeked", VID)


def test_390px_layout_fits_and_maps_clicks(app, browser):
    demo, url = app
    demo.recorder.events.clear()
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_selector(f"{IMG} .sc-root[data-state=ready]", timeout=60_000)
        r = page.eval_on_selector(f"{IMG} .sc-canvas", "c => { const r = c.getBoundingClientRect(); "
                                  "return [r.left, r.right, r.width, r.height, c.width]; }")
        assert r[0] >= 0 and r[1] <= 390 and abs(r[2] / r[3] - W / H) < 0.01, r
        assert r[4] >= 2 * r[2] - 2, "canvas not drawn at device resolution"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        sx, sy = _screen(page, IMG, 1170, 420)
        page.mouse.click(sx, sy)
        got = _events(demo, "point")[0]
        assert abs(got["x"] - 1170) <= 6 and abs(got["y"] - 420) <= 6, got
        _wait_masks_drawn(page, IMG, 1)
        # A long press with a finger is a background point.
        cdp = ctx.new_cdp_session(page)
        sx, sy = _screen(page, IMG, 600, 900)
        touch = [{"x": sx, "y": sy, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touch})
        page.wait_for_timeout(800)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        got = _events(demo, "point", 2)[1]
        assert got["label"] == 0 and abs(got["x"] - 600) <= 6 and abs(got["y"] - 900) <= 6, got
        page.screenshot(path=os.path.join(ARTIFACTS, "canvas_390px.png"), full_page=True)
    finally:
        ctx.close()


def test_an_answer_arriving_late_does_not_replace_a_newer_mask(app, page):
    """Two clicks answered by two workers can reach the browser in either order: per mask and
    prompt the canvas keeps the newest revision; an older answer for another object still lands."""
    red, blue, green = ("data:image/png;base64," + _png_b64(c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0)))
    page.eval_on_selector(f"{IMG} .sc-root", """(r, [red, blue, green]) => {
        const objs = [{id: 1, color: '#ff0000'}, {id: 2, color: '#00ff00'}];
        r.__apply({v: 1, seq: 9001, rev: 300, objects: objs, masks: {0: {1: blue}},
                   prompts: {0: {1: {points: [[5, 5, 1], [9, 9, 1]], box: null}}}});
        r.__apply({v: 1, seq: 9002, rev: 200, objects: objs, masks: {0: {1: red, 2: green}},
                   prompts: {0: {1: {points: [[5, 5, 1]], box: null}, 2: {points: [[7, 7, 1]], box: null}}}});
    }""", [red, blue, green])
    masks = _state(page, IMG, "Object.fromEntries(Object.entries(S.masks[0]).map(([k, m]) => [k, m.url]))")
    prompts = _state(page, IMG, "S.prompts[0]")
    assert masks["1"] == blue, "the older answer replaced object 1's newer mask"
    assert masks["2"] == green, "an older answer for another object was dropped"
    assert len(prompts["1"]["points"]) == 2 and len(prompts["2"]["points"]) == 1
    # Without revisions (an older sender), messages apply in arrival order as before.
    page.eval_on_selector(f"{IMG} .sc-root", "(r, red) => r.__apply({v: 1, seq: 9003, masks: {0: {1: red}}})", red)
    assert _state(page, IMG, "S.masks[0][1].url") == red


def _png_b64(rgb):
    import base64
    import io

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()
