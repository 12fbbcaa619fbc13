"""Click-to-visible latency of the canvas's mask layer, measured in headless Chromium.

For each of N clicks, the time from the mouse-up (``pointerup`` in the page) to the start of
the animation frame after the one that drew the answering mask, i.e. once it has been
painted (``PromptCanvas`` records it in ``root.__canvas.stats``). Default: the component's own overhead, on ``ui.canvas.demo`` whose
stand-in handler answers at once with a disc mask (Gradio event round trip, mask PNG encode
and decode, drawing). With ``--url``, any page holding a PromptCanvas with a picture loaded
(the real app once the tabs use it): the same number including the model.

    python bench/canvas_latency.py [--clicks 20] [--url http://127.0.0.1:7860/ --canvas '#image-canvas']
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


def server_side_ms(repeats: int = 20) -> dict:
    """What the stand-in handler spends per click on the PNG (1800x1200 mask -> 1280x853 PNG)."""
    import numpy as np

    from ui.canvas.scene import mask_png

    m = np.zeros((1200, 1800), bool)
    m[200:900, 300:1300] = True
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        url = mask_png(m, (30, 144, 255))
        times.append((time.perf_counter() - t) * 1000)
    return {"mask_png_ms": statistics.median(times), "mask_png_bytes": len(url)}


def measure(url: str, canvas: str, clicks: int, warmup: int, headed_chromium: str) -> list:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=headed_chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url, wait_until="load", timeout=120_000)
            page.wait_for_selector(f"{canvas} .sc-root[data-state=ready]", timeout=300_000)
            rect = page.eval_on_selector(f"{canvas} .sc-canvas",
                                         "c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")
            page.locator(f"{canvas} .sc-canvas").scroll_into_view_if_needed()
            rect = page.eval_on_selector(f"{canvas} .sc-canvas",
                                         "c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")
            total = warmup + clicks
            for i in range(total):
                # Points spread over the picture; Z between clicks keeps one object with one point.
                u = 0.15 + 0.7 * ((i * 0.37) % 1.0)
                v = 0.2 + 0.6 * ((i * 0.61) % 1.0)
                page.mouse.click(rect[0] + u * rect[2], rect[1] + v * rect[3])
                page.wait_for_function(
                    "([sel, n]) => document.querySelector(sel + ' .sc-root').__canvas.stats.length >= n",
                    arg=[canvas, i + 1], timeout=120_000)
                page.wait_for_timeout(50)
            stats = page.eval_on_selector(f"{canvas} .sc-root", "r => r.__canvas.stats.map(s => [s.ms, s.arrived])")
        finally:
            browser.close()
    return stats[warmup:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--url", help="a running app; default: start ui.canvas.demo in this process")
    ap.add_argument("--canvas", default="#demo-image", help="CSS selector of the PromptCanvas (its elem_id)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()

    demo = None
    url = args.url
    if url is None:
        from ui.canvas.demo import build_demo
        from ui.testing import free_port

        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        demo = build_demo()
        port = free_port()
        demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
        url = f"http://127.0.0.1:{port}/"
    try:
        ms = measure(url, args.canvas, args.clicks, args.warmup, args.chromium)
    finally:
        if demo is not None:
            demo.close()
    arrived = [a for _, a in ms]
    ms = [m for m, _ in ms]
    ms_sorted = sorted(ms)
    print(f"canvas click-to-visible over {len(ms)} clicks ({'demo stand-in' if demo else url}):")
    print(f"  median {statistics.median(ms):.1f} ms, min {ms_sorted[0]:.1f}, "
          f"p90 {ms_sorted[int(0.9 * (len(ms) - 1))]:.1f}, max {ms_sorted[-1]:.1f}")
    print(f"  message in the page after a median {statistics.median(arrived):.1f} ms "
          f"(the rest: PNG decode and drawing)")
    if demo is not None:
        s = server_side_ms()
        print(f"  of which the stand-in's mask PNG: {s['mask_png_ms']:.1f} ms, {s['mask_png_bytes']} bytes (data URL)")


if __name__ == "__main__":
    main()
