"""Shared set-up for the browser tests: Chromium with Playwright, the app in a subprocess,
image upload, and clicks on image or video pixels mapped to the screen."""

from __future__ import annotations

import io
import os
import shutil
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image

from tests.support.hub_cache import REPO_ROOT, AppProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768
ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANVAS = "#image-canvas"  # the image tab's PromptCanvas (ui/canvas)

# Screen position of an image pixel on a PromptCanvas (original pixels, centres at integers).
CANVAS_TO_SCREEN = """([sel, x, y]) => {
  const root = document.querySelector(sel + ' .sc-root'), S = root.__canvas;
  const r = root.querySelector('.sc-canvas').getBoundingClientRect();
  return [r.left + (x + 0.5) / S.W * r.width, r.top + (y + 0.5) / S.H * r.height];
}"""

# What a PromptCanvas shows (picture layer + overlay composited) at the canvas's resolution:
# [w, h, RGBA bytes], or with an original pixel (x, y) the RGB there.
CANVAS_PIXELS = """([sel, x, y]) => {
  const root = document.querySelector(sel + ' .sc-root'), S = root.__canvas;
  const top = root.querySelector('.sc-canvas'), pic = root.querySelector('.sc-picture');
  const c = document.createElement('canvas');
  c.width = top.width; c.height = top.height;
  const g = c.getContext('2d');
  g.drawImage(pic, 0, 0);
  g.drawImage(top, 0, 0);
  if (x === null) return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
  const px = g.getImageData(Math.floor((x + 0.5) / S.W * c.width), Math.floor((y + 0.5) / S.H * c.height), 1, 1).data;
  return [px[0], px[1], px[2]];
}"""

# Screen position of an image pixel in an <img> drawn with object-fit: contain (letterboxed).
TO_SCREEN = """([img, x, y]) => {
  const r = img.getBoundingClientRect();
  const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const ox = (r.width - img.naturalWidth * s) / 2, oy = (r.height - img.naturalHeight * s) / 2;
  return [r.left + ox + (x + 0.5) * s, r.top + oy + (y + 0.5) * s];
}"""


@contextmanager
def app_and_browser(args: List[str], env: dict) -> Iterator[Tuple[AppProcess, object]]:
    """The app in a subprocess and a headless Chromium: ``(app, browser)``; both closed after.
    Makes sure ARTIFACTS exists."""
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with AppProcess(args, env) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield app, browser
        finally:
            browser.close()


def open_page(browser, url: str, width: int = 1400, height: int = 1100):
    """A new page of ``browser`` with that viewport, loaded from ``url``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="load", timeout=120_000)
    return page


VIDEO = "#video-canvas"


def upload_video(page, path: str) -> None:
    """Open the Video tab and give the clip at ``path`` to its canvas (as "browse" does).

    The tab's canvas is mounted when the tab is first shown; a file given to an instance that
    is being replaced is lost, so the upload is given again if it did not start."""
    page.get_by_role("tab", name="Video").click(timeout=120_000)
    for attempt in range(3):
        page.wait_for_selector(f"{VIDEO} .sc-root[data-ready='1'][data-mode='video']", state="visible", timeout=60_000)
        page.wait_for_timeout(300)
        page.set_input_files(f"{VIDEO} .sc-file", path)
        try:
            page.wait_for_function(
                f"() => {{ const r = document.querySelector('{VIDEO} .sc-root'); "
                "return r && (r.dataset.state !== 'empty' || r.__canvas.kind === 'video'); }", timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - the upload did not start: give the file again
            if attempt == 2:
                raise


def video_state(page, expr: str):
    """``expr`` evaluated with ``S``, the video canvas's browser-side scene."""
    return page.eval_on_selector(f"{VIDEO} .sc-root", f"root => {{ const S = root.__canvas; return {expr}; }}")


def wait_video(page, expr: str, timeout: int = 120_000) -> None:
    """Wait until ``expr`` (with ``S``, the video canvas's scene) is true."""
    page.wait_for_function(f"() => {{ const S = document.querySelector('{VIDEO} .sc-root').__canvas; return {expr}; }}",
                           timeout=timeout)


def canvas_screen(page, sel: str, x: float, y: float) -> Tuple[float, float]:
    """Screen position of original pixel (x, y) on the PromptCanvas ``sel`` (an elem_id selector)."""
    return tuple(page.evaluate(CANVAS_TO_SCREEN, [sel, x, y]))


def video_screen(page, x: float, y: float) -> Tuple[float, float]:
    """Screen position of clip pixel (x, y) on the video canvas (scrolled into view first)."""
    page.locator(f"{VIDEO} .sc-canvas").scroll_into_view_if_needed()
    return canvas_screen(page, VIDEO, x, y)


def video_pixel(page, x: float, y: float) -> Tuple[int, int, int]:
    """RGB on screen at clip pixel (x, y) of the video canvas."""
    return canvas_pixel(page, VIDEO, x, y)


def upload_image(page, path: str = SHAPES) -> None:
    """Upload ``path`` through the image canvas's file input (what "click to browse" opens)
    and wait until the canvas shows it."""
    page.wait_for_selector(f"{CANVAS} .sc-root[data-ready='1']", timeout=60_000)
    page.locator(f"{CANVAS} .sc-file").set_input_files(path)
    page.wait_for_function(f"() => document.querySelector('{CANVAS} .sc-root').dataset.state === 'ready'"
                           f" && document.querySelector('{CANVAS} .sc-root').__canvas.W > 0", timeout=120_000)


def fetch_image(page, src: str) -> np.ndarray:
    """The picture at URL ``src`` as an int16 RGB array."""
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(np.int16)


def fetch_shown(page, selector: str = CANVAS) -> np.ndarray:
    """What ``selector`` shows as an int16 RGB array: an <img>'s picture, or a PromptCanvas's
    picture and overlay together, resized to the original image size (index it with image pixels)."""
    if selector.rstrip().endswith("img"):
        return fetch_image(page, page.eval_on_selector(selector, "img => img.src"))
    w, h, data = page.evaluate(CANVAS_PIXELS, [selector, None, None])
    rgba = np.asarray(data, dtype=np.uint8).reshape(h, w, 4)
    W, H = page.eval_on_selector(f"{selector} .sc-root", "r => [r.__canvas.W, r.__canvas.H]")
    return np.asarray(Image.fromarray(rgba[..., :3]).resize((W, H), Image.Resampling.NEAREST)).astype(np.int16)


def set_slider(page, elem_id: str, value: float) -> None:
    """Type ``value`` into the number box of the slider ``#elem_id`` (as a person would)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.scroll_into_view_if_needed()
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def wait_text(page, selector: str, text: str, timeout: int = 120_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def screen_of_pixel(page, x: float, y: float, selector: str = CANVAS) -> Tuple[float, float]:
    """Screen position of image pixel (x, y) on the image canvas (scrolled into view first)."""
    page.locator(f"{selector} .sc-canvas").scroll_into_view_if_needed()
    return page.evaluate(CANVAS_TO_SCREEN, [selector, x, y])


def canvas_pixel(page, selector: str, x: float, y: float) -> List[int]:
    """RGB on screen at original pixel (x, y) of the PromptCanvas ``selector``."""
    return page.evaluate(CANVAS_PIXELS, [selector, x, y])


def masks_drawn(page, selector: str = CANVAS) -> int:
    """How many answers with a mask the canvas has drawn so far (its click-to-visible log)."""
    return page.eval_on_selector(f"{selector} .sc-root", "r => r.__canvas.stats.length")


def wait_masks_drawn(page, n: int, selector: str = CANVAS, timeout: int = 120_000) -> None:
    page.wait_for_function("([s, n]) => document.querySelector(s + ' .sc-root').__canvas.stats.length >= n",
                           arg=[selector, n], timeout=timeout)


def click_pixel(page, x: float, y: float, button: str = "left", modifiers: Optional[List[str]] = None,
                selector: str = CANVAS) -> None:
    """Click image pixel (x, y) with a real mouse and wait until the answering mask is drawn."""
    before = masks_drawn(page, selector)
    sx, sy = screen_of_pixel(page, x, y, selector)
    if modifiers:
        for key in modifiers:
            page.keyboard.down(key)
    page.mouse.click(sx, sy, button=button)
    if modifiers:
        for key in modifiers:
            page.keyboard.up(key)
    wait_masks_drawn(page, before + 1, selector)


def drag_pixels(page, x0: float, y0: float, x1: float, y1: float, selector: str = CANVAS, steps: int = 8) -> None:
    """Press at image pixel (x0, y0), move to (x1, y1) (may be outside the picture), release."""
    sx0, sy0 = screen_of_pixel(page, x0, y0, selector)
    sx1, sy1 = page.evaluate(CANVAS_TO_SCREEN, [selector, x1, y1])
    page.mouse.move(sx0, sy0)
    page.mouse.down()
    page.mouse.move(sx1, sy1, steps=steps)
    page.mouse.up()


def video_frames(n: int, w: int = 240, h: int = 160):
    """``n`` frames: a grey ramp with a red box moving 12 px right per frame."""
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = np.linspace(80, 190, w, dtype=np.uint8)[None, :, None]
        img[40:100, 30 + 12 * i: 90 + 12 * i] = (210, 50, 40)
        yield img
