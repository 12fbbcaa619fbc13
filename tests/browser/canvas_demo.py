"""The canvas demo (``ui.canvas.demo``: stand-in handlers, no model) served in this process and a
headless Chromium page on it, for the canvas's browser tests (its ``Recorder`` shows what
reached Python). Import the fixtures into a test module: ``from tests.browser.canvas_demo
import app, browser, page``."""

from __future__ import annotations

import os
import time

import pytest

from tests.support.app import launch_demo
from tests.support.browser import ARTIFACTS, CHROMIUM
from ui.canvas import demo as canvas_demo

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
IMG = "#demo-image"
VID = "#demo-video"
W, H = canvas_demo.IMAGE_WH


@pytest.fixture(scope="session")
def app():
    """One served demo for every canvas test module: building a second demo in the same process
    after the first was closed left its answers unsent (the canvas waited for them in vain)."""
    demo = canvas_demo.build_demo()
    url = launch_demo(demo)
    os.makedirs(ARTIFACTS, exist_ok=True)
    try:
        yield demo, url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(app, browser):
    demo, url = app
    demo.recorder.events.clear()
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000})
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url, wait_until="load", timeout=60_000)
    pg.wait_for_selector(f"{IMG} .sc-root[data-state=ready]", timeout=60_000)
    pg.wait_for_selector(f"{VID} .sc-root[data-state=ready]", timeout=60_000)
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, errors


def recorded(demo, name, n=1, timeout=45.0):
    """The demo's recorded ``name`` events once there are at least ``n`` (generous: the shared
    machine is often overloaded), else an AssertionError listing what did arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = demo.recorder.named(name)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} '{name}' events, got {demo.recorder.events}")
