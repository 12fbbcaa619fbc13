"""PromptCanvas in headless Chromium (issue #22): colours per object, zoom and pan, brush and eraser, the
"Preparing image…" state and the keys overlay, driven by real mouse, wheel and keyboard events.

The demo app (``ui.canvas.demo``: stand-in handlers, no model) runs in this process; its
``Recorder`` shows what reached Python. Its picture is 1800x1200, the issue's size for the
zoom test. Screenshots go to test-artifacts/canvas22_*.png for a person to look at.
"""

from __future__ import annotations

import os
import time

import pytest

from ui.canvas import demo as canvas_demo
from ui.canvas.raster import PALETTE, color_hex

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.browser import canvas_demo as served_demo
from tests.browser.canvas_demo import IMG, VID, W

app, browser, page = served_demo.app, served_demo.browser, served_demo.page  # the served demo's fixtures
from tests.support.browser import ARTIFACTS




# ---------------------------------------------------------------------------- helpers
_events = served_demo.recorded  # the demo's recorded events, waited for


def _screen(page, sel, x, y):
    """Screen position of original pixel (x, y) under the canvas's current zoom and pan."""
    return tuple(page.eval_on_selector(f"{sel} .sc-root", "(r, [x, y]) => r.__toScreen(x, y)", [x, y]))


def _pixel(page, sel, sx, sy):
    """RGB shown at screen point (sx, sy): the picture layer and the overlay composited."""
    return tuple(page.eval_on_selector(f"{sel} .sc-root", """(root, [sx, sy]) => {
        const top = root.querySelector('.sc-canvas'), pic = root.querySelector('.sc-picture');
        const r = top.getBoundingClientRect();
        const c = document.createElement('canvas');
        c.width = top.width; c.height = top.height;
        const g = c.getContext('2d');
        g.drawImage(pic, 0, 0); g.drawImage(top, 0, 0);
        const px = g.getImageData(Math.floor((sx - r.left) / r.width * c.width),
                                  Math.floor((sy - r.top) / r.height * c.height), 1, 1).data;
        return [px[0], px[1], px[2]];
    }""", [sx, sy]))


def _state(page, sel, expr):
    return page.eval_on_selector(f"{sel} .sc-root", f"root => {{ const S = root.__canvas; return {expr}; }}")


def _view(page, sel):
    return page.eval_on_selector(f"{sel} .sc-root", "r => r.__view()")


def _answers(page, sel, n):
    page.wait_for_function(f"() => document.querySelector('{sel} .sc-root').__canvas.stats.length >= {n}",
                           timeout=45_000)


def _shot(page, name, sel=None):
    path = os.path.join(ARTIFACTS, f"canvas22_{name}.png")
    (page.locator(sel) if sel else page).screenshot(path=path)


def _rgb(hex_color):
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def _near(a, b, tol=40):
    return all(abs(int(p) - int(q)) <= tol for p, q in zip(a, b))


# ---------------------------------------------------------------------------- colours
def test_each_object_has_its_colour_on_points_masks_and_legend(app, page):
    demo, _ = app
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    # Object 1: a foreground click; object 2 (N): a foreground and a background click.
    sx, sy = _screen(page, IMG, 450, 480)
    page.mouse.click(sx, sy)
    _answers(page, IMG, 1)
    page.keyboard.press("n")
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.objects.length === 2")
    for n, ((x, y), kw) in enumerate((((1170, 420), {}), ((1250, 500), {"button": "right"}))):
        sx, sy = _screen(page, IMG, x, y)
        page.mouse.click(sx, sy, **kw)
        _answers(page, IMG, 2 + n)  # one at a time: only the answer to the latest click is timed
    page.wait_for_timeout(300)  # the selected object's halo is made after its mask is shown
    _shot(page, "colours", IMG)
    first, second = color_hex(PALETTE[0]), color_hex(PALETTE[1])
    assert _state(page, IMG, "S.objects.map(o => o.color)") == [first, second]
    r = _state(page, IMG, "Math.max(5, Math.min(11, Math.min(S.W && root.querySelector('.sc-canvas').width, "
                          "root.querySelector('.sc-canvas').height) / 70))")
    k = r / page.evaluate("() => window.devicePixelRatio || 1") * 0.5  # CSS px, inside the marker
    # Points in their object's colour (object 2, selected, at full strength).
    sx, sy = _screen(page, IMG, 1170, 420)
    assert _near(_pixel(page, IMG, sx + k, sy), _rgb(second)), _pixel(page, IMG, sx + k, sy)
    # Foreground and background told apart by shape: the background square fills its corner,
    # the disc does not (the corner shows the picture or the mask there).
    corner = r / page.evaluate("() => window.devicePixelRatio || 1") * 0.78
    fx, fy = _screen(page, IMG, 1170, 420)
    bx, by = _screen(page, IMG, 1250, 500)
    assert _near(_pixel(page, IMG, bx - corner, by - corner), _rgb(second), 30)
    assert not _near(_pixel(page, IMG, fx - corner, fy - corner), _rgb(second), 30)
    # The background square carries a white bar (a "minus").
    assert min(_pixel(page, IMG, bx, by)) > 200
    # Masks in their colours; the unselected object 1 dimmed: its tint is weaker than when
    # it is selected.
    dim = _pixel(page, IMG, *_screen(page, IMG, 450 + 60, 480))
    page.keyboard.press("[")  # select object 1
    page.wait_for_function(f"() => document.querySelector('{IMG} .sc-root').__canvas.selected === 1")
    page.wait_for_timeout(300)
    bright = _pixel(page, IMG, *_screen(page, IMG, 450 + 60, 480))
    sx, sy = _screen(page, IMG, 450, 480)
    assert _near(_pixel(page, IMG, sx + k, sy), _rgb(first)), _pixel(page, IMG, sx + k, sy)
    picture = tuple(int(v) for v in canvas_demo.sample_picture()[480, 510])
    tint = _rgb(first)
    assert sum(abs(a - b) for a, b in zip(bright, picture)) > sum(abs(a - b) for a, b in zip(dim, picture)) + 20, \
        (dim, bright, picture)
    assert abs(bright[2] - tint[2]) < abs(picture[2] - tint[2]), (bright, picture)
    # The selected object is outlined: a white halo just outside its mask's edge.
    _shot(page, "colours_selected", IMG)
    halo = _state(page, IMG, "(() => { const m = S.masks[0][S.selected]; return !!(m && m.halo); })()")
    assert halo
    # The legend: one chip per object in its colour, the selected one marked.
    chips = page.eval_on_selector_all(f"{IMG} .sc-legend .sc-obj", "bs => bs.map(b => [b.textContent, "
                                      "getComputedStyle(b.querySelector('.sc-swatch')).backgroundColor, "
                                      "b.classList.contains('sc-on')])")
    assert [c[2] for c in chips] == [True, False]
    assert chips[0][1] == "rgb(%d, %d, %d)" % _rgb(first) and chips[1][1] == "rgb(%d, %d, %d)" % _rgb(second)
    # A click on a chip selects that object and tells Python.
    page.locator(f"{IMG} .sc-legend .sc-obj").nth(1).click()
    got = _events(demo, "select_object", 2)[-1]
    assert got["object"] == 2


# ---------------------------------------------------------------------------- zoom and pan
def test_wheel_zoom_keeps_the_pixel_under_the_pointer_and_clicks_land_at_400_percent(app, page):
    demo, _ = app
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    sx, sy = (round(v) for v in _screen(page, IMG, 1300.0, 420.0))
    page.mouse.move(sx, sy)
    x, y = page.eval_on_selector(f"{IMG} .sc-root", "(r, [a, b]) => r.__toImage(a, b)", [sx, sy])
    for _ in range(12):
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)
    page.wait_for_function(f"() => +document.querySelector('{IMG} .sc-root').dataset.zoom >= 400")
    v = _view(page, IMG)
    assert v["z"] > 3, v
    # Zoomed around the pointer: the same picture pixel is still under it (within a pixel).
    sx2, sy2 = _screen(page, IMG, x, y)
    assert abs(sx2 - sx) < 1.5 and abs(sy2 - sy) < 1.5, (sx, sy, sx2, sy2)
    # Exactly 400 % (4 screen pixels per picture pixel) around that point, then clicks on
    # picture pixels in view: each lands within one source pixel.
    page.eval_on_selector(f"{IMG} .sc-root", "(r, [x, y]) => r.__zoomTo(400, x, y)", [x, y])
    assert abs(_view(page, IMG)["percent"] - 400) < 0.5
    targets = [(1300, 420), (1250.3, 380.6), (1347.8, 455.2), (1290, 470)]
    for i, (tx, ty) in enumerate(targets):
        px, py = _screen(page, IMG, tx, ty)
        page.mouse.click(px, py)
        got = _events(demo, "point", i + 1)[i]
        assert abs(got["x"] - tx) <= 1.0 and abs(got["y"] - ty) <= 1.0, (got, tx, ty)
        # One at a time: the canvas times only the answer to the latest click, so a click sent
        # before the previous answer was painted would leave that answer uncounted.
        _answers(page, IMG, i + 1)
    page.wait_for_timeout(100)
    _shot(page, "zoom_400", IMG)
    # The picture is drawn magnified: a 1-source-pixel step is 4 screen pixels.
    r = page.eval_on_selector(f"{IMG} .sc-canvas", "c => c.getBoundingClientRect().width")
    assert abs(_view(page, IMG)["z"] * r / W - 4.0) < 0.01


def test_pan_with_space_drag_and_middle_button_then_0_fits_and_shift_0_is_100_percent(app, page):
    demo, _ = app
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    cx, cy = _screen(page, IMG, 900, 600)
    page.mouse.move(cx, cy)
    page.keyboard.press("Shift+Digit0")
    assert abs(_view(page, IMG)["percent"] - 100) < 0.5
    before = _screen(page, IMG, 900, 600)
    # Space held + drag pans by the drag; no click, no box is sent.
    page.keyboard.down(" ")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 60, cy - 40, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    after = _screen(page, IMG, 900, 600)
    assert abs((after[0] - before[0]) + 60) < 1.5 and abs((after[1] - before[1]) + 40) < 1.5, (before, after)
    # Middle button drag pans too.
    page.mouse.move(cx, cy)
    page.mouse.down(button="middle")
    page.mouse.move(cx + 30, cy + 20, steps=5)
    page.mouse.up(button="middle")
    again = _screen(page, IMG, 900, 600)
    assert abs((again[0] - after[0]) - 30) < 1.5 and abs((again[1] - after[1]) - 20) < 1.5, (after, again)
    assert not demo.recorder.named("point") and not demo.recorder.named("box")
    # A click after panning still lands on its pixel.
    px, py = _screen(page, IMG, 880, 610)
    page.mouse.click(px, py)
    got = _events(demo, "point", 1)[0]
    assert abs(got["x"] - 880) <= 1.0 and abs(got["y"] - 610) <= 1.0, got
    _shot(page, "panned_100", IMG)
    page.keyboard.press("0")
    v = _view(page, IMG)
    assert (v["z"], v["x"], v["y"]) == (1, 0, 0)


def test_zoom_works_in_the_video_player_while_it_plays(app, page):
    demo, _ = app
    page.locator(f"{VID} .sc-canvas").scroll_into_view_if_needed()
    x, y = 240.0, 135.0
    sx, sy = _screen(page, VID, x, y)
    page.mouse.move(sx, sy)
    for _ in range(6):
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)
    z = _view(page, VID)["z"]
    assert z > 1.5
    px, py = _screen(page, VID, 200, 120)
    page.mouse.click(px, py)
    got = _events(demo, "point", 1)[0]
    assert abs(got["x"] - 200) <= 1.0 and abs(got["y"] - 120) <= 1.0 and got["frame"] == 0, got
    page.keyboard.press(" ")  # a tap of Space plays (a held Space would pan)
    page.wait_for_function(f"() => document.querySelector('{VID} .sc-root').__canvas.frame >= 3", timeout=15_000)
    assert _view(page, VID)["z"] == z  # the zoom stays while playing
    _shot(page, "video_zoomed", VID)


# ---------------------------------------------------------------------------- preparing
def test_preparing_state_shows_progress_and_a_click_made_meanwhile_is_answered_after(app, page):
    demo, _ = app
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    sx, sy = _screen(page, IMG, 450, 480)
    page.locator("#demo-load-slow").click()
    page.wait_for_selector(f"{IMG} .sc-root[data-preparing='1']", timeout=15_000)
    page.mouse.click(sx, sy)  # during the stand-in encoding: provisional mark now, answer after
    assert page.eval_on_selector(f"{IMG} .sc-root", "r => r.dataset.preparing") == "1"
    assert _state(page, IMG, "S.pending.length") == 1
    page.wait_for_timeout(500)
    text = page.inner_text(f"{IMG} .sc-prep-text")
    assert text.startswith("Preparing image…") and "of about 3.0 s" in text, text
    width = page.eval_on_selector(f"{IMG} .sc-prep-bar i", "i => parseFloat(i.style.width)")
    assert 0 < width < 95, width
    _shot(page, "preparing", IMG)
    _answers(page, IMG, 1)
    page.wait_for_function(f"() => !document.querySelector('{IMG} .sc-root').dataset.preparing")
    got = _events(demo, "point", 1)[0]
    assert abs(got["x"] - 450) <= 2 and abs(got["y"] - 480) <= 2
    assert _state(page, IMG, "Object.keys(S.masks[0] || {}).length") == 1


# ---------------------------------------------------------------------------- keys overlay
def test_question_mark_shows_every_key_and_esc_closes_it(app, page):
    page.locator(f"{VID} .sc-canvas").scroll_into_view_if_needed()
    sx, sy = _screen(page, VID, 100, 100)
    page.mouse.move(sx, sy)
    page.keyboard.press("?")
    page.wait_for_selector(f"{VID} .sc-keys", state="visible")
    rows = page.eval_on_selector_all(f"{VID} .sc-keys tr", "rs => rs.map(r => r.cells[0].textContent)")
    assert "Shift+0" in rows and "Space (tap)" in rows and "?" in rows and len(rows) >= 15
    _shot(page, "keys_overlay", VID)
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{VID} .sc-keys", state="hidden")
    # The corner button opens it too (the image canvas: no player keys there).
    page.locator(f"{IMG} .sc-keys-btn").click()
    rows = page.eval_on_selector_all(f"{IMG} .sc-keys tr", "rs => rs.map(r => r.cells[0].textContent)")
    assert "Shift+0" in rows and "Space (tap)" not in rows


# ---------------------------------------------------------------------------- brush and eraser
def test_brush_stroke_changes_the_mask_survives_a_click_and_undo_removes_it(app, page):
    demo, _ = app
    page.locator(f"{IMG} .sc-canvas").scroll_into_view_if_needed()
    sx, sy = _screen(page, IMG, 450, 480)
    page.mouse.click(sx, sy)  # object 1: a disc of radius 0.08 * 853 display px around the click
    _answers(page, IMG, 1)
    away = (900.0, 480.0)  # outside that disc: the picture shows through
    picture = _pixel(page, IMG, *_screen(page, IMG, *away))
    page.keyboard.press("b")
    assert page.eval_on_selector(f"{IMG} .sc-root", "r => r.dataset.tool") == "brush"
    page.keyboard.press("]")  # a bigger brush
    brush_px = float(page.eval_on_selector(f"{IMG} .sc-root", "r => r.dataset.brush"))
    assert brush_px == pytest.approx(15.0)
    # The round cursor follows the pointer: its ring is drawn at the brush radius.
    hx, hy = _screen(page, IMG, 1300, 900)
    page.mouse.move(hx, hy)
    page.wait_for_timeout(100)
    ring = _pixel(page, IMG, hx + brush_px, hy)
    assert ring != _pixel(page, IMG, hx + brush_px + 6, hy), "no round cursor"
    _shot(page, "brush_cursor", IMG)
    # A stroke from the disc out to ``away`` (real mouse drag).
    x0, y0 = _screen(page, IMG, 560, 480)
    x1, y1 = _screen(page, IMG, *away)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    got = _events(demo, "stroke", 1)[0]
    assert got["erase"] is False and got["object"] == 1
    assert abs(got["points"][0][0] - 560) <= 1.0 and abs(got["points"][-1][0] - away[0]) <= 1.0
    width = page.eval_on_selector(f"{IMG} .sc-canvas", "c => c.getBoundingClientRect().width")
    assert got["radius"] == pytest.approx(brush_px * W / width, rel=0.02)  # original pixels
    _answers(page, IMG, 2)
    page.wait_for_timeout(100)
    painted = _pixel(page, IMG, *_screen(page, IMG, *away))
    tint = _rgb(color_hex(PALETTE[0]))
    assert abs(painted[2] - tint[2]) < abs(picture[2] - tint[2]) - 20, (painted, picture)
    _shot(page, "brush_stroke", IMG)
    # Back to clicks (Esc); a click refines the object and the painted band stays.
    page.keyboard.press("Escape")
    assert page.eval_on_selector(f"{IMG} .sc-root", "r => r.dataset.tool") == "prompt"
    px, py = _screen(page, IMG, 420, 560)
    page.mouse.click(px, py)
    _answers(page, IMG, 3)
    page.wait_for_timeout(100)
    assert _pixel(page, IMG, *_screen(page, IMG, *away)) == painted
    # The eraser (E) takes part of it away again.
    page.keyboard.press("e")
    ex, ey = _screen(page, IMG, *away)
    page.mouse.move(ex, ey)
    page.mouse.down()
    page.mouse.up()
    got = _events(demo, "stroke", 2)[1]
    assert got["erase"] is True
    _answers(page, IMG, 4)
    page.wait_for_timeout(100)
    assert _pixel(page, IMG, *_screen(page, IMG, *away)) == picture
    _shot(page, "eraser", IMG)
    # Undo covers strokes: Z takes the eraser stroke back, so the band shows again.
    page.keyboard.press("e")
    page.keyboard.press("z")
    _events(demo, "undo", 1)
    page.wait_for_function(f"() => {{ const S = document.querySelector('{IMG} .sc-root').__canvas; "
                           "return S.pending.length === 0; }")
    page.wait_for_timeout(400)
    assert _pixel(page, IMG, *_screen(page, IMG, *away)) == painted


# ---------------------------------------------------------------------------- live effects
def _effect_frame(page):
    """[frame index, w, h, RGB bytes] of the effect frame the video canvas made last."""
    return page.eval_on_selector(f"{VID} .sc-root", """r => { const S = r.__canvas, c = S.fx.canvas;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const rgb = []; for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
        return [+r.dataset.fxFrame, c.width, c.height, rgb]; }""")


@pytest.mark.slow  # five effects read back pixel by pixel: minutes on a loaded 2-core machine
def test_live_effects_play_in_the_player_and_match_the_mp4_renderer(app, page):
    import numpy as np
    from PIL import Image

    from ui.video.render import Layer, render_frame

    page.locator("#demo-track").click()
    page.wait_for_function(f"() => {{ const S = document.querySelector('{VID} .sc-root').__canvas; "
                           f"return Object.keys(S.masks).length >= {canvas_demo.CLIP_FRAMES}; }}", timeout=30_000)
    page.locator(f"{VID} .sc-canvas").scroll_into_view_if_needed()
    frames = canvas_demo.clip_files()  # the same JPEG encoder and quality as the demo's frames
    color = _rgb(color_hex(PALETTE[0]))
    for effect, tol in (("highlight", 6.0), ("cutout", 4.0), ("blur", 6.0), ("pixelate", 12.0)):
        page.select_option(f"{VID} .sc-effect", effect)
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{VID} .sc-root'); "
                               f"return r.dataset.effect === '{effect}' && r.dataset.fxFrame === '2'; }}")
        t, w, h, rgb = _effect_frame(page)
        ours = np.array(rgb, np.int16).reshape(h, w, 3)
        frame = np.asarray(Image.open(frames[t]).convert("RGB"))
        theirs = render_frame(frame, [Layer(canvas_demo.clip_mask(t), color)], effect).astype(np.int16)
        diff = float(np.abs(ours - theirs).mean())
        assert diff < tol, (effect, diff)
        _shot(page, f"effect_{effect}", VID)
    # Erase: the square is gone (filled from the dark surroundings), unlike the frame.
    page.select_option(f"{VID} .sc-effect", "erase")
    page.wait_for_function(f"() => document.querySelector('{VID} .sc-root').dataset.effect === 'erase' "
                           f"&& document.querySelector('{VID} .sc-root').__canvas.fx?.key?.startsWith('erase')")
    t, w, h, rgb = _effect_frame(page)
    ours = np.array(rgb, np.int16).reshape(h, w, 3)
    inside = canvas_demo.clip_mask(t)
    assert ours[inside].mean() < 90, ours[inside].mean()  # the square was 235, the background 30
    _shot(page, "effect_erase", VID)
    # While playing the effect follows the frames.
    page.select_option(f"{VID} .sc-effect", "cutout")
    page.keyboard.press("Home")
    seen = set()
    page.locator(f"{VID} .sc-play").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(seen) < 4:
        seen.add(page.eval_on_selector(f"{VID} .sc-root", "r => r.dataset.fxFrame"))
        page.wait_for_timeout(60)
    assert len(seen) >= 4, seen
    sx, sy = _screen(page, VID, 20, 240)  # background: white in the cutout
    assert _pixel(page, VID, sx, sy) == (255, 255, 255)
