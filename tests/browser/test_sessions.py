"""Sessions in a real headless Chromium: a reload (F5) brings the work back, a new tab does
not share it, and offered downloads disappear as soon as the masks change. Screenshots are
kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from tests.support.browser import (ARTIFACTS, CANVAS, app_and_browser, click_pixel, fetch_shown, open_page,
                                   upload_image, upload_video, video_frames, video_screen, video_state, wait_text,
                                   wait_video)
from ui.page import SESSION_STORAGE_KEY
from tests.support.hub_cache import hf_cache_env

playwright_api = pytest.importorskip("playwright.sync_api")



def _object_labels(page, root: str) -> list:
    return [t.strip() for t in page.locator(f"{root} label").all_inner_texts()]


def _offered_files(page, root: str) -> int:
    return page.locator(f"{root} tbody tr").count()


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_reload_restores_the_image_session_and_downloads_follow_the_masks(tmp_path):
    env = hf_cache_env(str(tmp_path / "hf"))
    with app_and_browser(["--no-video", "--device", "cpu"], env) as (app, browser):
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = context.new_page()
        page.goto(app.url, wait_until="load", timeout=120_000)
        upload_image(page)
        wait_text(page, "#image-status", "Ready", timeout=180_000)
        click_pixel(page, 230, 260)  # the red disc
        wait_text(page, "#image-status", "1 foreground")
        page.click("#image-new-object")
        wait_text(page, "#image-status", "Object 2")
        click_pixel(page, 620, 210)  # the blue square
        wait_text(page, "#image-status", "1 foreground")

        # Downloads are offered, then taken away by the next change of the masks.
        page.click("#image-export")
        wait_text(page, "#image-status", "files ready")
        page.wait_for_function("() => document.querySelectorAll('#image-files tbody tr').length > 0")
        offered = _offered_files(page, "#image-files")
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_offered.png"), full_page=True)
        click_pixel(page, 640, 230)
        wait_text(page, "#image-status", "2 foreground")
        page.wait_for_timeout(500)
        after_edit = _offered_files(page, "#image-files")
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_cleared.png"), full_page=True)

        before = fetch_shown(page, CANVAS)
        labels_before = _object_labels(page, "#image-objects")
        status_before = page.inner_text("#image-status")

        t0 = time.monotonic()
        page.reload(wait_until="load")
        wait_text(page, "#image-status", "Restored after the page reload", timeout=60_000)
        # The canvas has the picture again and both objects' masks drawn.
        page.wait_for_function("() => { const S = document.querySelector('#image-canvas .sc-root').__canvas;"
                               " return S.W === 1024 && S.imgs[0] && S.imgs[0].complete && S.masks[0]"
                               " && Object.values(S.masks[0]).filter((m) => m.img && m.img.complete).length === 2; }",
                               timeout=60_000)
        print(f"\nreload -> image session shown again in {time.monotonic() - t0:.2f} s")
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_reloaded.png"), full_page=True)
        restored = fetch_shown(page, CANVAS)
        labels_after = _object_labels(page, "#image-objects")
        status_after = page.inner_text("#image-status")
        candidates = page.locator("#image-canvas .sc-chip").count()
        prompts = page.eval_on_selector("#image-canvas .sc-root", "r => r.__canvas.prompts[0]")

        # The restored session goes on where it was: one more click on Object 2.
        click_pixel(page, 600, 190)
        wait_text(page, "#image-status", "3 foreground")

        # Another tab is another session: it starts empty.
        other = context.new_page()
        other.goto(app.url, wait_until="load", timeout=120_000)
        wait_text(other, "#image-status", "Drop an image", timeout=60_000)
        other.wait_for_timeout(1000)
        other_has_canvas = other.eval_on_selector("#image-canvas .sc-root", "r => r.__canvas.W > 0")
        other.screenshot(path=os.path.join(ARTIFACTS, "browser_session_other_tab.png"), full_page=True)

        # A duplicated tab (Chrome's "Duplicate" copies sessionStorage, key included) while the
        # original is open: it starts empty with a key of its own; the original keeps its work.
        key = page.evaluate(f"() => sessionStorage.getItem('{SESSION_STORAGE_KEY}')")
        dup = context.new_page()
        dup.add_init_script(f"sessionStorage.setItem('{SESSION_STORAGE_KEY}', '{key}')")
        dup.goto(app.url, wait_until="load", timeout=120_000)
        wait_text(dup, "#image-status", "Drop an image", timeout=60_000)
        dup.wait_for_function(f"() => sessionStorage.getItem('{SESSION_STORAGE_KEY}') !== '{key}'",
                              timeout=60_000)
        dup.wait_for_timeout(1000)
        dup_has_canvas = dup.eval_on_selector("#image-canvas .sc-root", "r => r.__canvas.W > 0")
        dup.screenshot(path=os.path.join(ARTIFACTS, "browser_session_duplicate_tab.png"), full_page=True)
        click_pixel(page, 610, 200)  # the original still works on its own objects
        wait_text(page, "#image-status", "4 foreground")
        original_labels = _object_labels(page, "#image-objects")

    assert offered >= 3, "no files were offered after 'Prepare downloads'"
    assert after_edit == 0, "the offered files stayed after the masks changed"
    assert restored.shape == before.shape == (768, 1024, 3)
    assert np.abs(restored - before).mean() < 3.0, "the restored overlay differs from the one before the reload"
    assert labels_after == labels_before and len(labels_after) == 2, (labels_before, labels_after)
    assert "Object 2" in status_after and "2 foreground" in status_after, status_after
    assert status_before.split("\n")[0] in status_after
    assert candidates == 3
    assert [len(p["points"]) for p in prompts.values()] == [1, 2], prompts  # the points, redrawn
    assert not other_has_canvas
    assert not dup_has_canvas, "the duplicated tab shows the original's session"
    assert original_labels == labels_before


@pytest.mark.slow
def test_reload_restores_the_video_session_with_its_tracked_masks(tmp_path):
    from sam2.media.mp4 import write_mp4

    clip = write_mp4(str(tmp_path / "red_box.mp4"), video_frames(3), fps=6)
    env = hf_cache_env(str(tmp_path / "hf"))
    with app_and_browser(["--device", "cpu"], env) as (app, browser):
        page = open_page(browser, app.url)
        upload_video(page, clip)
        wait_text(page, "#video-status", "Ready", timeout=240_000)
        page.mouse.click(*video_screen(page, 60, 70))
        wait_text(page, "#video-status", "1 foreground")
        page.locator("#video-direction").get_by_text("Forward", exact=True).click()
        page.locator("#video-track").click()
        wait_text(page, "#video-status", "Preview ready", timeout=300_000)
        page.locator("#video-export").click()
        wait_text(page, "#video-status", "files ready", timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('#video-files tbody tr').length > 0")
        offered = _offered_files(page, "#video-files")
        preview_before = page.locator("#video-preview video").count()

        # a correction (a right click beside the box) takes the files and the preview away
        page.mouse.click(*video_screen(page, 150, 130), button="right")
        wait_text(page, "#video-status", "1 background")
        page.wait_for_timeout(500)
        offered_after = _offered_files(page, "#video-files")
        preview_after = page.locator("#video-preview video").count()
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_video_corrected.png"), full_page=True)

        page.mouse.move(*video_screen(page, 120, 80))
        page.keyboard.press("ArrowRight")
        wait_text(page, "#video-status", "Frame 1 of")
        wait_video(page, "[0, 1, 2].every(f => S.masks[f] && S.masks[f][1] && S.masks[f][1].img.complete)")
        before_masks = video_state(page, "[0, 1, 2].map(f => S.masks[f][1].url)")
        before_prompts = video_state(page, "S.prompts[0][1]")
        objects_before = _object_labels(page, "#video-objects")

        page.reload(wait_until="load")
        page.get_by_role("tab", name="Video").click(timeout=60_000)
        wait_text(page, "#video-status", "Restored after the page reload", timeout=60_000)
        # the canvas is drawn again: the clip's frames, the masks of every frame, the prompts,
        # on the frame shown before (the timeline is drawn from the same scene)
        wait_video(page, "S.kind === 'video' && S.frames.length === 3 && S.imgs.every(i => i && i.complete)"
                         " && [0, 1, 2].every(f => S.masks[f] && S.masks[f][1] && S.masks[f][1].img.complete)",
                   timeout=60_000)
        page.wait_for_timeout(300)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_session_video_reloaded.png"), full_page=True)
        status = page.inner_text("#video-status")
        after_masks = video_state(page, "[0, 1, 2].map(f => S.masks[f][1].url)")
        after_prompts = video_state(page, "S.prompts[0][1]")
        shown = video_state(page, "S.frame")
        objects_after = _object_labels(page, "#video-objects")
        legend = page.inner_text("#video-legend")

    assert offered == 4 and preview_before == 1
    assert offered_after == 0 and preview_after == 0, (offered_after, preview_after)
    assert "Frame 1 of" in status and "3/3 frames with masks" in status, status
    assert objects_after == objects_before and len(objects_after) == 1
    assert "Object 1" in legend and "px" in legend
    assert shown == 1
    assert after_masks == before_masks and after_prompts == before_prompts
