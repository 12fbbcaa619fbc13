"""The page as a new user meets it, in a real Chromium at 1366x768 (a common laptop screen).

* The picture, its status line and the main actions are visible without scrolling (image and
  video tabs); Find is collapsed until opened; no empty player or timeline before a clip.
* F5 reopens the tab the work was on; Space never re-runs the button clicked last; the
  light/dark toggle switches and is remembered.
* With ``SAM2_README_SCREENSHOT=1`` the image test also writes ``docs/screenshot.png``, the
  picture at the top of the README (the shapes example loaded and encoded, before a click),
  so the README shows the real app. Screenshots of every check go to ``test-artifacts/``: look at them.

The app runs in a child process with seeded random weights in a private Hugging Face cache
(offline), so masks are not meaningful shapes; the layout and behaviour are what is tested.
"""

from __future__ import annotations

import os

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.hub_cache import AppProcess, hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(REPO, "test-artifacts")
SHAPES = os.path.join(REPO, "examples", "shapes.png")
CLIP = os.path.join(REPO, "examples", "moving_shapes.mp4")
W, H = 1366, 768

pytestmark = pytest.mark.slow  # the browser marker and the Chromium skip: tests/browser/conftest.py


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """``python app.py`` as a user starts it, with random tiny weights in an offline cache."""
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf")))
    with AppProcess(["--device", "cpu"], env) as app:
        yield app.url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": W, "height": H})
    p = context.new_page()
    p.goto(app_url, wait_until="load", timeout=120_000)
    _wait_loaded(p)
    yield p
    context.close()


def _wait_loaded(page) -> None:
    """The canvas is ready and the page's load event has run (it stores the session key)."""
    page.wait_for_selector("#image-canvas .sc-root[data-ready='1']", state="attached", timeout=60_000)
    page.wait_for_function("() => !!sessionStorage.getItem('sam2-studio-session')", timeout=60_000)
    page.wait_for_timeout(300)


def _text(page, sel: str) -> str:
    return page.locator(sel).first.inner_text()


def _wait_text(page, sel: str, text: str, timeout: int = 180_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s) || {innerText: ''}).innerText.includes(t)",
                           arg=[sel, text], timeout=timeout)


def _fully_in_view(page, sel: str) -> dict:
    box = page.locator(sel).first.bounding_box()
    assert box is not None, f"{sel} is not shown"
    assert box["y"] >= 0 and box["y"] + box["height"] <= H + 0.5, f"{sel} is outside the window: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= W + 0.5, f"{sel} is outside the window: {box}"
    return box


def _click_image_pixel(page, x: float, y: float, **kw) -> None:
    sx, sy = page.evaluate("""([x, y]) => {
      const root = document.querySelector('#image-canvas .sc-root'), S = root.__canvas;
      const r = root.querySelector('.sc-canvas').getBoundingClientRect();
      return [r.left + (x + 0.5) / S.W * r.width, r.top + (y + 0.5) / S.H * r.height];
    }""", [x, y])
    page.mouse.click(sx, sy, **kw)


def _wait_video_tab(page) -> None:
    page.wait_for_selector("#video-canvas .sc-stage", state="visible", timeout=60_000)
    page.wait_for_selector("#video-canvas .sc-root[data-ready='1']", state="attached", timeout=60_000)


def _load_shapes(page) -> None:
    page.set_input_files("#image-canvas input[type=file]", SHAPES)
    _wait_text(page, "#image-status", "Image loaded")
    page.wait_for_function("() => document.querySelector('#image-canvas .sc-root').dataset.state === 'ready'",
                           timeout=120_000)


def test_image_tab_fits_1366x768(page):
    assert page.evaluate("() => window.scrollY") == 0
    _load_shapes(page)
    if os.environ.get("SAM2_README_SCREENSHOT"):
        # Before any click: the test weights are random, so their masks would be noise; the
        # README shows the real page, ready for a first click.
        _wait_text(page, "#image-status", "Ready", timeout=300_000)
        page.mouse.move(5, 5)
        os.makedirs(os.path.join(REPO, "docs"), exist_ok=True)
        page.screenshot(path=os.path.join(REPO, "docs", "screenshot.png"))
    _click_image_pixel(page, 230, 260)  # the red disc
    _wait_text(page, "#image-status", "1 foreground")
    page.click("#image-new-object")
    _wait_text(page, "#image-status", "Object 2")
    _click_image_pixel(page, 620, 210)  # the blue square
    _wait_text(page, "#image-status", "Object 2")
    _wait_text(page, "#image-status", "1 foreground")
    page.mouse.move(5, 5)
    page.wait_for_timeout(800)
    page.screenshot(path=os.path.join(ARTIFACTS, "layout_image_1366x768.png"))
    assert page.evaluate("() => window.scrollY") == 0
    for sel in ("#image-canvas .sc-canvas", "#image-status", "#image-undo", "#image-new-object", "#image-clear",
                "#image-export", "#image-objects", "#model-select", "#theme-toggle"):
        _fully_in_view(page, sel)
    # Find is there, collapsed: its text box is not shown until the accordion is opened.
    assert page.locator("#image-find").is_visible()
    assert not page.locator("#image-find-text").is_visible()
    page.click("#image-find button, #image-find .label-wrap")
    page.wait_for_selector("#image-find-text", state="visible", timeout=10_000)


def test_video_tab_before_and_after_a_clip(page):
    page.get_by_role("tab", name="Video").click()
    _wait_video_tab(page)
    # Before a clip: the drop zone, no player and no (empty) timeline.
    assert not page.locator("#video-canvas .sc-timeline").is_visible()
    assert not page.locator("#video-canvas .sc-player").is_visible()
    _fully_in_view(page, "#video-status")
    _fully_in_view(page, "#video-track")
    page.screenshot(path=os.path.join(ARTIFACTS, "layout_video_empty_1366x768.png"))
    page.set_input_files("#video-canvas input[type=file]", CLIP)
    page.wait_for_function("() => { const S = document.querySelector('#video-canvas .sc-root').__canvas;"
                           " return S && S.frames && S.frames.length > 0; }", timeout=180_000)
    page.wait_for_timeout(1000)
    assert page.locator("#video-canvas .sc-timeline").is_visible()
    for sel in ("#video-canvas .sc-canvas", "#video-canvas .sc-player", "#video-status", "#video-track",
                "#video-cancel"):
        _fully_in_view(page, sel)
    page.screenshot(path=os.path.join(ARTIFACTS, "layout_video_clip_1366x768.png"))


def test_f5_reopens_the_tab_the_work_was_on(page):
    page.get_by_role("tab", name="Video").click()
    _wait_video_tab(page)
    page.reload(wait_until="load")
    page.wait_for_function("() => { const t = [...document.querySelectorAll('[role=tab]')]"
                           ".find(e => e.getAttribute('aria-selected') === 'true');"
                           " return t && t.innerText.includes('Video'); }", timeout=60_000)
    assert page.locator("#video-canvas").is_visible()
    page.get_by_role("tab", name="Image").click()
    page.reload(wait_until="load")
    _wait_loaded(page)
    page.wait_for_timeout(1500)
    assert page.locator("#image-canvas").is_visible() and not page.locator("#video-canvas").is_visible()


def test_space_does_not_rerun_the_last_button(page):
    _load_shapes(page)
    _click_image_pixel(page, 230, 260)
    _wait_text(page, "#image-status", "1 foreground")
    _click_image_pixel(page, 260, 280)
    _wait_text(page, "#image-status", "2 foreground")
    page.click("#image-undo")
    _wait_text(page, "#image-status", "1 foreground")
    page.keyboard.press("Space")  # the Undo button still has the focus
    page.wait_for_timeout(2500)
    assert "1 foreground" in _text(page, "#image-status"), _text(page, "#image-status")
    page.keyboard.press("Space")
    page.wait_for_timeout(1500)
    assert "1 foreground" in _text(page, "#image-status"), _text(page, "#image-status")


def test_light_dark_toggle_switches_and_is_remembered(page):
    dark = page.evaluate("() => document.body.classList.contains('dark')")
    background = page.evaluate("() => getComputedStyle(document.querySelector('gradio-app') || document.body)"
                               ".backgroundColor")
    page.click("#theme-toggle")
    assert page.evaluate("() => document.body.classList.contains('dark')") is (not dark)
    page.wait_for_timeout(300)
    assert page.evaluate("() => getComputedStyle(document.querySelector('gradio-app') || document.body)"
                         ".backgroundColor") != background
    page.screenshot(path=os.path.join(ARTIFACTS, "layout_theme_toggled.png"))
    page.reload(wait_until="load")
    _wait_loaded(page)
    assert page.evaluate("() => document.body.classList.contains('dark')") is (not dark)
