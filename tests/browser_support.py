"""Shared set-up for the browser tests: Chromium with Playwright, the app in a subprocess,
image upload, and clicks on image or video pixels mapped to the screen."""

from __future__ import annotations

import io
import os
import shutil
from contextlib import contextmanager
from typing import Iterator, List, Tuple

import numpy as np
from PIL import Image

from ui.testing import REPO_ROOT, AppProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768
ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANVAS = "#image-canvas img"

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
    return page.evaluate("""([sel, x, y]) => {
        const root = document.querySelector(sel + ' .sc-root'), S = root.__canvas;
        const r = root.querySelector('.sc-canvas').getBoundingClientRect();
        return [r.left + (x + 0.5) / S.W * r.width, r.top + (y + 0.5) / S.H * r.height];
    }""", [sel, x, y])


def canvas_pixel(page, sel: str, x: float, y: float) -> Tuple[int, int, int]:
    """RGB on screen at original pixel (x, y) of the PromptCanvas ``sel``: its overlay
    (masks, prompts) composited over its picture layer."""
    return tuple(page.evaluate("""([sel, x, y]) => {
        const root = document.querySelector(sel + ' .sc-root'), S = root.__canvas;
        const top = root.querySelector('.sc-canvas'), pic = root.querySelector('.sc-picture');
        const c = document.createElement('canvas');
        c.width = top.width; c.height = top.height;
        const g = c.getContext('2d');
        g.drawImage(pic, 0, 0);
        g.drawImage(top, 0, 0);
        const px = g.getImageData(Math.floor((x + 0.5) / S.W * c.width),
                                  Math.floor((y + 0.5) / S.H * c.height), 1, 1).data;
        return [px[0], px[1], px[2]];
    }""", [sel, x, y]))


def video_screen(page, x: float, y: float) -> Tuple[float, float]:
    """Screen position of clip pixel (x, y) on the video canvas (scrolled into view first)."""
    page.locator(f"{VIDEO} .sc-canvas").scroll_into_view_if_needed()
    return canvas_screen(page, VIDEO, x, y)


def video_pixel(page, x: float, y: float) -> Tuple[int, int, int]:
    """RGB on screen at clip pixel (x, y) of the video canvas."""
    return canvas_pixel(page, VIDEO, x, y)


def upload_image(page, path: str = SHAPES) -> None:
    """Wait for the image tab's file input and upload ``path`` through it."""
    page.wait_for_selector("#image-upload input[type=file]", state="attached", timeout=60_000)
    page.set_input_files("#image-upload input[type=file]", path)


def fetch_image(page, src: str) -> np.ndarray:
    """The picture at URL ``src`` as an int16 RGB array."""
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(np.int16)


def fetch_shown(page, selector: str = CANVAS) -> np.ndarray:
    """The picture shown by the <img> at ``selector`` as an int16 RGB array."""
    return fetch_image(page, page.eval_on_selector(selector, "img => img.src"))


def wait_text(page, selector: str, text: str, timeout: int = 120_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def screen_of_pixel(page, x: int, y: int) -> Tuple[float, float]:
    """Screen position of image pixel (x, y) on the image canvas (scrolled into view first)."""
    page.locator(CANVAS).scroll_into_view_if_needed()
    return page.evaluate(TO_SCREEN, [page.query_selector(CANVAS), x, y])


def click_pixel(page, x: int, y: int) -> None:
    """Click image pixel (x, y) and wait until the canvas shows the new overlay."""
    old = page.eval_on_selector(CANVAS, "img => img.src")
    sx, sy = screen_of_pixel(page, x, y)
    page.mouse.click(sx, sy)
    page.wait_for_function(
        "(old) => { const i = document.querySelector('#image-canvas img'); return i && i.src !== old; }",
        arg=old, timeout=120_000)


def video_frames(n: int, w: int = 240, h: int = 160):
    """``n`` frames: a grey ramp with a red box moving 12 px right per frame."""
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = np.linspace(80, 190, w, dtype=np.uint8)[None, :, None]
        img[40:100, 30 + 12 * i: 90 + 12 * i] = (210, 50, 40)
        yield img
