"""The video tab in a real headless Chromium, with real mouse and keyboard events on its canvas:
upload a clip onto the canvas, left click / right click / drag a box on a frame, undo the box
(Z), track, a click while tracking, then play (Space), step (arrows), scrub and seek on the
timeline with the tracked masks in place; and the 390 px layout; the brush (B, a real drag)
making a frame's mask prompt that Track carries; Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y over Delete
object and Start over. Screenshots are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os

import pytest

from sam2.media.mp4 import write_mp4
from tests.support.browser import (ARTIFACTS, VIDEO, app_and_browser, open_page, upload_video,
                                   video_frames, video_pixel, video_screen, video_state, wait_text, wait_video)
from tests.support.hub_cache import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

W, H = 240, 160
N = 6  # frames of the clip

pytestmark = pytest.mark.slow


def _status(page) -> str:
    return page.locator("#video-status").inner_text()


def _wait_status(page, text: str, timeout: int = 120_000) -> None:
    try:
        wait_text(page, "#video-status", text, timeout=timeout)
    except Exception:  # noqa: BLE001 - say what the status was
        raise AssertionError(f"status never said {text!r}: {_status(page)!r}") from None


def _shot(page, name: str, full: bool = False) -> None:
    path = os.path.join(ARTIFACTS, f"browser_video_{name}.png")
    if full:
        page.screenshot(path=path, full_page=True)
    else:
        page.locator(VIDEO).screenshot(path=path)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("video_browser")
    clip = write_mp4(str(tmp / "red_box.mp4"), video_frames(N, W, H), fps=6)
    with app_and_browser(["--device", "cpu"], hf_cache_env(str(tmp / "hf"))) as (proc, browser):
        yield proc, browser, clip


def _loaded_page(app, **viewport):
    proc, browser, clip = app
    page = open_page(browser, proc.url, **viewport)
    try:
        upload_video(page, clip)
        wait_video(page, f"S.kind === 'video' && S.frames.length === {N} && S.imgs[0] && S.imgs[0].complete")
    except Exception:
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_video_load_failed.png"), full_page=True)
        raise AssertionError(f"the clip did not reach the canvas: {_status(page)!r} "
                             f"{video_state(page, '[S.kind, S.frames.length, root.dataset.state, root.dataset.hint]')}"
                             f"\n{proc.log()[-3000:]}")
    _wait_status(page, "Ready", timeout=240_000)
    return page


def test_gestures_on_a_frame_then_track_play_scrub_and_seek(app):
    page = _loaded_page(app)
    assert video_state(page, "S.W") == W and video_state(page, "S.H") == H
    assert "/gradio_api/file=" in video_state(page, "S.frames[0]")  # frames are served once, as files
    _shot(page, "loaded")

    # Left click inside the red box: a foreground point, and its mask on frame 0 in the canvas.
    sx, sy = video_screen(page, 60, 70)
    page.mouse.click(sx, sy)
    _wait_status(page, "1 foreground / 0 background")
    wait_video(page, "S.masks[0] && S.masks[0][1] && S.masks[0][1].img && S.masks[0][1].img.complete")
    pts = video_state(page, "S.prompts[0][1].points")
    assert len(pts) == 1 and abs(pts[0][0] - 60) <= 2 and abs(pts[0][1] - 70) <= 2 and pts[0][2] == 1, pts
    # Right click beside it: a background point (and no browser menu).
    sx, sy = video_screen(page, 200, 140)
    page.mouse.click(sx, sy, button="right")
    _wait_status(page, "1 foreground / 1 background")
    # Press-drag-release: a box around the red square.
    x0, y0 = video_screen(page, 25, 35)
    x1, y1 = video_screen(page, 95, 105)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    _wait_status(page, "+ box")
    box = video_state(page, "S.prompts[0][1].box")
    assert box is not None and abs(box[0] - 25) <= 2 and abs(box[3] - 105) <= 2, box
    _shot(page, "gestures")
    # Z undoes the newest prompt: the box goes (the browser drops it too), the clicks stay.
    page.mouse.move(*video_screen(page, 120, 80))
    page.keyboard.press("z")
    page.wait_for_function("() => !document.querySelector('#video-status').innerText.includes('+ box')")
    assert "1 foreground / 1 background" in _status(page)
    wait_video(page, "S.prompts[0][1].box === null && S.prompts[0][1].points.length === 2")

    # Track forward; a click while tracking says what to do instead of being dropped.
    page.locator("#video-direction").get_by_text("Forward", exact=True).click()
    page.locator("#video-track").click()
    wait_video(page, "S.busy !== ''", timeout=120_000)
    page.mouse.click(*video_screen(page, 150, 60))
    wait_video(page, "(document.querySelector('#video-canvas .sc-root').dataset.hint || '').includes('press Cancel')")
    _shot(page, "busy_hint")
    wait_video(page, f"S.busy === '' && Object.keys(S.masks).length === {N}", timeout=300_000)
    _wait_status(page, f"{N}/{N} frames with masks", timeout=120_000)
    assert video_state(page, "S.prompts[0][1].points.length") == 2, "the click during tracking was sent"
    # Every frame has the object's mask in the browser, drawn from its PNG.
    wait_video(page, f"[...Array({N}).keys()].every(f => S.masks[f] && S.masks[f][1] && S.masks[f][1].img.complete)")
    _shot(page, "tracked")

    # Play with Space: frames advance, and each frame shows its own mask, in place.
    page.mouse.move(*video_screen(page, 120, 150))
    page.keyboard.press("Home")
    page.keyboard.press("Space")
    assert video_state(page, "S.playing")
    seen = set()
    for _ in range(40):
        f = video_state(page, "S.frame")
        seen.add(f)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(80)
    _shot(page, "playing")
    assert len(seen) >= 3, seen
    page.keyboard.press("Space")
    assert not video_state(page, "S.playing")
    paused = video_state(page, "S.frame")
    _wait_status(page, f"Frame **{paused}**".replace("**", ""))  # the server follows the pause
    # Arrows step one frame.
    if paused == N - 1:
        page.keyboard.press("ArrowLeft")
        paused -= 1
    page.keyboard.press("ArrowRight")
    assert video_state(page, "S.frame") == paused + 1
    page.keyboard.press("ArrowLeft")
    assert video_state(page, "S.frame") == paused
    # The mask layer of the frame shown differs between two frames where the box moved.
    page.keyboard.press("Home")
    page.wait_for_timeout(200)
    first = video_pixel(page, 35, 70)
    page.keyboard.press("End")
    page.wait_for_timeout(200)
    last = video_pixel(page, 35, 70)
    assert first != last, (first, last)  # frame 0 has the red box there, the last frame not
    # Scrub: a click at the slider's left end goes to frame 0.
    sb = page.locator(f"{VIDEO} .sc-scrub").bounding_box()
    page.mouse.click(sb["x"] + 2, sb["y"] + sb["height"] / 2)
    wait_video(page, "S.frame === 0")
    # Timeline: a click in the 4th of 6 cells seeks to frame 3, and the server follows.
    tl = page.locator(f"{VIDEO} .sc-timeline").bounding_box()
    page.mouse.click(tl["x"] + tl["width"] * (3.5 / N), tl["y"] + tl["height"] / 2)
    wait_video(page, "S.frame === 3")
    _wait_status(page, "Frame 3 of")
    _shot(page, "seeked", full=True)


def test_390px_layout_fits_and_maps_clicks(app):
    page = _loaded_page(app, width=390, height=844)
    r = page.eval_on_selector(f"{VIDEO} .sc-canvas", "c => { const r = c.getBoundingClientRect(); "
                              "return [r.left, r.right, r.width, r.height]; }")
    assert r[0] >= 0 and r[1] <= 390 and abs(r[2] / r[3] - W / H) < 0.02, r
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.mouse.click(*video_screen(page, 60, 70))
    _wait_status(page, "1 foreground")
    pts = video_state(page, "S.prompts[0][1].points")
    assert abs(pts[0][0] - 60) <= 3 and abs(pts[0][1] - 70) <= 3, pts
    page.locator(VIDEO).scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(ARTIFACTS, "browser_video_390px.png"))


# A clip pixel (x, y), at least ``margin`` px inside the frame, whose ``margin`` x ``margin``
# neighbourhood is all outside (want=false) or all inside (want=true) object 1's mask on frame 0,
# read from the mask PNG the canvas holds; null when there is none.
_FIND_SPOT = """([want, margin]) => {
  const S = document.querySelector('#video-canvas .sc-root').__canvas;
  const img = S.masks[0][1].img, c = document.createElement('canvas');
  c.width = S.W; c.height = S.H;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0, S.W, S.H);
  const a = g.getImageData(0, 0, S.W, S.H).data;
  const inside = (x, y) => a[4 * (y * S.W + x) + 3] > 0;
  for (let y = margin; y < S.H - margin; y += 4)
    for (let x = 2 * margin; x < S.W - 2 * margin; x += 4) {
      let ok = true;
      for (let dy = -margin; dy <= margin && ok; dy++)
        for (let dx = -2 * margin; dx <= 2 * margin && ok; dx++) ok = inside(x + dx, y + dy) === want;
      if (ok) return [x, y];
    }
  return null;
}"""


def test_brush_on_a_frame_becomes_its_mask_prompt_and_tracking_carries_it(app):
    """B, then a real drag on frame 0: the mask shown changes there (pixels), the status says the
    painted mask is the prompt, and Track gives every later frame a mask."""
    page = _loaded_page(app)
    page.mouse.click(*video_screen(page, 60, 70))
    _wait_status(page, "1 foreground / 0 background")
    wait_video(page, "S.masks[0] && S.masks[0][1] && S.masks[0][1].img && S.masks[0][1].img.complete")
    spot = page.evaluate(_FIND_SPOT, [False, 6])  # paint where the mask is not (random weights)
    tool = "b"
    if spot is None:  # the mask covers everything: the eraser then takes a part out
        spot, tool = page.evaluate(_FIND_SPOT, [True, 6]), "e"
    assert spot is not None, "no place to paint or erase"
    x, y = spot
    before_url = video_state(page, "S.masks[0][1].url")
    before = video_pixel(page, x, y)
    page.mouse.move(*video_screen(page, x - 8, y))
    page.keyboard.press(tool)
    wait_video(page, f"S.tool === '{'brush' if tool == 'b' else 'erase'}'")
    page.mouse.down()
    page.mouse.move(*video_screen(page, x, y), steps=4)
    page.mouse.move(*video_screen(page, x + 8, y), steps=4)
    page.mouse.up()
    _wait_status(page, "painted mask here")
    wait_video(page, "S.pending.length === 0 && S.masks[0][1].img.complete")
    assert video_state(page, "S.masks[0][1].url") != before_url  # a new mask came from the server
    after = video_pixel(page, x, y)
    assert sum(abs(a - b) for a, b in zip(after, before)) > 30, (before, after, tool)
    assert video_state(page, "((S.prompts[0] || {})[1] || {points: []}).points.length") == 0  # the mask prompt replaced the click
    _shot(page, f"brush_{tool}")
    page.keyboard.press("Escape")  # back to clicks
    wait_video(page, "S.tool === 'prompt'")

    page.locator("#video-direction").get_by_text("Forward", exact=True).click()
    page.locator("#video-track").click()
    _wait_status(page, f"{N}/{N} frames with masks", timeout=300_000)
    wait_video(page, f"[...Array({N}).keys()].every(f => S.masks[f] && S.masks[f][1] && S.masks[f][1].img.complete)")
    _shot(page, "brush_tracked")


def test_ctrl_z_brings_back_a_deleted_object_and_redo_after_start_over_clears_again(app):
    page = _loaded_page(app)
    page.mouse.click(*video_screen(page, 60, 70))
    _wait_status(page, "1 foreground / 0 background")
    page.mouse.move(*video_screen(page, 120, 80))
    page.keyboard.press("n")
    _wait_status(page, "Object 2")
    page.mouse.click(*video_screen(page, 200, 130))
    wait_video(page, "S.prompts[0] && S.prompts[0][2] && S.prompts[0][2].points.length === 1")
    wait_video(page, "S.selected === 2 && S.pending.length === 0")
    page.keyboard.press("Delete")
    wait_video(page, "S.objects.length === 1")
    _wait_status(page, "Deleted")
    page.keyboard.press("Control+z")  # Delete object undone: object 2 is back with its click
    _wait_status(page, "Undone.")
    wait_video(page, "S.objects.length === 2 && S.prompts[0][2] && S.prompts[0][2].points.length === 1")
    pts = video_state(page, "S.prompts[0][2].points")
    assert abs(pts[0][0] - 200) <= 2 and abs(pts[0][1] - 130) <= 2, pts

    page.locator("#video-reset").click()  # Start over asks nothing ...
    wait_video(page, "S.objects.length === 0")
    _wait_status(page, "Started over")
    _shot(page, "history_cleared")
    page.mouse.move(*video_screen(page, 120, 80))
    page.keyboard.press("+")  # zoomed in: an undo keeps the zoom
    wait_video(page, "S.view.z > 1.1")
    page.keyboard.press("Control+z")  # ... and can be undone
    wait_video(page, "S.objects.length === 2 && S.prompts[0][1].points.length === 1 && S.prompts[0][2].points.length === 1")
    wait_video(page, "S.masks[0] && S.masks[0][1] && S.masks[0][1].img && S.masks[0][1].img.complete")
    assert video_state(page, "S.view.z") > 1.1
    page.keyboard.press("0")  # fit again
    _shot(page, "history_undone")
    page.keyboard.press("Control+Shift+z")  # redo: cleared again
    _wait_status(page, "Redone.")
    wait_video(page, "S.objects.length === 0")
    page.keyboard.press("Control+z")
    wait_video(page, "S.objects.length === 2")
    page.keyboard.press("Control+y")  # Ctrl+Y redoes too
    wait_video(page, "S.objects.length === 0")
    page.keyboard.press("Control+y")
    wait_video(page, "(document.querySelector('#video-canvas .sc-root').dataset.hint || '').includes('Nothing to redo')")
