"""Sessions through ``gradio_client`` against the app in this process: downloads made after an
edit match the new masks (and replace the old files), a closed client's files are deleted,
and Gradio's temporary copies are deleted by ``delete_cache``."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from tests.support.app import decode_coco, launch_demo
from ui.common import exports, run_folder
from tests.support.hub_cache import REPO_ROOT

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768


def _launch(tiny_checkpoint, **config):
    from ui.page import AppConfig, build_demo

    demo = build_demo(AppConfig(model="sam2.1-hiera-tiny", checkpoint=tiny_checkpoint, device="cpu",
                                examples_dir=None, **config))
    return demo, launch_demo(demo)


def _mask(path: str) -> np.ndarray:
    return np.asarray(Image.open(path)) == 255


def _coco_masks(path: str):
    return decode_coco(path)[1]


def _files_under(folder: str):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs)


def _export_files_under(folder: str):
    """The session folder's files other than the clip's frames (``frames/``: the JPEGs the
    video canvas plays from, kept while the clip is loaded)."""
    return [p for p in _files_under(folder) if os.path.basename(os.path.dirname(p)) != "frames"]


def _wait_until(cond, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    from sam2.media.mp4 import write_mp4

    def frames():
        for i in range(3):
            img = np.zeros((120, 160, 3), np.uint8)
            img[:] = np.linspace(60, 200, 160, dtype=np.uint8)[None, :, None]
            img[30:70, 20 + 10 * i: 60 + 10 * i] = (220, 40, 40)
            yield img

    return write_mp4(str(tmp_path_factory.mktemp("clip") / "squares.mp4"), frames(), fps=6)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_image_downloads_after_an_edit_match_the_new_masks(tiny_checkpoint):
    demo, url = _launch(tiny_checkpoint, video=False)
    store = demo.sam2_image_controller.sessions
    try:
        c = Client(url, verbose=False)
        # the page's restore event (it takes a session key) is not part of the API
        api = c.view_api(return_format="dict", print_info=False)
        params = [p["parameter_name"] for ep in list(api["named_endpoints"].values())
                  + list(api["unnamed_endpoints"].values()) for p in ep["parameters"]]
        assert "key" not in params and not api["unnamed_endpoints"], api["unnamed_endpoints"]
        c.predict(handle_file(SHAPES), api_name="/load_image")
        c.predict(230, 260, True, api_name="/add_point")
        first, _ = c.predict(api_name="/export")
        before = _mask(first[0])
        c.predict(230, 260, False, api_name="/add_point")  # a correction: background where the object was
        c.predict(api_name="/new_object")
        c.predict(620, 210, True, api_name="/add_point")
        second, status = c.predict(api_name="/export")
        after = _mask(second[0])

        slot = store.get(c.session_hash).state
        current = [o.mask for o in slot.state.finished_objects()]
        assert len(current) == 2 and "ready" in status
        assert np.array_equal(after, exports.union_mask(current, slot.state.hw))
        assert not np.array_equal(after, before)
        coco = _coco_masks(next(p for p in second if p.endswith("_masks.json")))
        assert len(coco) == 2 and all(np.array_equal(a, b) for a, b in zip(coco, current))
        # on the server only the newest export is kept
        server = sorted(os.path.basename(p) for p in _files_under(slot.files.folder))
        assert server == sorted(os.path.basename(p) for p in second)

        # "Clear all": nothing to download any more, and no mask of the old objects offered
        c.predict(api_name="/clear")
        _, status = c.predict(api_name="/export")
        assert status.startswith("⚠️") and "Nothing to download" in status
        folder = slot.files.folder
        c.close()
        assert _wait_until(lambda: len(store) == 0)
        # The store forgets the session first, then deletes its files (SessionStore.drop).
        assert _wait_until(lambda: not os.path.exists(folder)), "a closed client's files were not deleted"
    finally:
        demo.close()


@pytest.mark.slow
def test_video_downloads_follow_corrections_removals_and_reset(tiny_checkpoint, clip):
    demo, url = _launch(tiny_checkpoint)
    store = demo.sam2_video_controller.sessions
    try:
        c = Client(url, verbose=False)
        c.predict(handle_file(clip), api_name="/video_load")
        c.predict(0, 40, 50, True, 1, api_name="/video_add_point")
        c.predict(0, 130, 100, True, 2, api_name="/video_add_point")
        first, _, _ = c.predict("overlay", api_name="/video_export")
        c.predict(0, 40, 50, False, 1, api_name="/video_add_point")  # correction of object 1
        c.predict(2, api_name="/video_remove_object")
        second, _, status = c.predict("overlay", api_name="/video_export")
        slot = store.get(c.session_hash).state
        st = slot.state
        assert [o.obj_id for o in st.objects] == [1] and "1 object" in status
        coco = _coco_masks(next(p for p in second if p.endswith("_coco.json")))
        assert len(coco) == 1 and np.array_equal(coco[0], st.masks.mask(0, 1))
        assert not np.array_equal(_coco_masks(next(p for p in first if p.endswith("_coco.json")))[0], coco[0])
        server = sorted(os.path.basename(p) for p in _export_files_under(slot.files.folder))
        assert server == sorted(os.path.basename(p) for p in second)

        c.predict(api_name="/video_reset")
        assert slot.files.folder is None or _export_files_under(slot.files.folder) == []
        *_, status = c.predict("overlay", api_name="/video_export")
        assert "Nothing to download" in status
    finally:
        demo.close()


def test_gradio_temp_files_are_deleted_after_their_age(tiny_checkpoint, tmp_path, monkeypatch):
    """Measure the files in GRADIO_TEMP_DIR: uploads, rendered canvases and offered downloads
    pile up while a session works, and ``delete_cache`` removes them once they are old."""
    temp = tmp_path / "gradio_tmp"
    temp.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(temp))
    # The 4 s age also starts the run folder's sweeper; give this demo a run folder of its
    # own, or the sweeper would age out every later in-process test's files after 4 s.
    run = run_folder.RunFolder(base=str(tmp_path))
    monkeypatch.setattr(run_folder, "_current", run)
    upload = str(tmp_path / "upload_me.png")
    shutil.copy(SHAPES, upload)
    demo, url = _launch(tiny_checkpoint, video=False, cache_max_age_s=4, cache_sweep_s=1)
    try:
        assert demo.delete_cache == (1, 4)
        c = Client(url, verbose=False)
        seen = set()
        for args, api in [((handle_file(upload),), "/load_image"), ((230, 260, True), "/add_point"),
                          ((620, 210, True), "/add_point"), ((), "/export")]:
            c.predict(*args, api_name=api)
            seen.update(_files_under(str(temp)))  # (files older than 4 s may already be gone)
        names = {os.path.basename(p) for p in seen}
        assert "upload_me.png" in names and "upload_me_mask.png" in names, names
        c.close()
        assert _wait_until(lambda: not _files_under(str(temp)), timeout_s=30), _files_under(str(temp))
        print(f"\nGRADIO_TEMP_DIR: {len(seen)} files made while working, {len(_files_under(str(temp)))} "
              f"after the age of {demo.delete_cache[1]} s")
    finally:
        demo.close()
        run.remove()  # stops its sweeper
