"""Issue #23 against the real app (``python app.py``, random weights), through raw HTTP and
``gradio_client``: hostile box files and numbers get messages that name the problem, unknown
endpoints a 404, sessions that never connect are bounded per client and age out quickly,
and the server run's temporary folder is swept at start-up and removed at exit. The log has
no traceback at the end."""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import pytest

from tests.support.hub_cache import REPO_ROOT, AppProcess, hf_cache_env

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow  # one app for the module, ~3 minutes with the waits for sessions to age out

SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")  # 1024 x 768
CLIP = os.path.join(REPO_ROOT, "examples", "moving_shapes.mp4")
PER_CLIENT = 4
UNCONNECTED_IDLE_S = 10


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tmpdir")
    stale = tmp / "sam2-studio" / "run-999999999-1" / "sessions"  # a run that is long gone
    stale.mkdir(parents=True)
    (stale / "left.png").write_bytes(b"x")
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf_home")))
    env.update(TMPDIR=str(tmp), SAM2_MAX_SESSIONS_PER_CLIENT=str(PER_CLIENT),
               SAM2_UNCONNECTED_IDLE_S=str(UNCONNECTED_IDLE_S))
    proc = AppProcess(["--device", "cpu"], env)
    with proc:
        proc.tmp = tmp
        yield proc
    runs = os.listdir(tmp / "sam2-studio")
    assert runs == [], f"the run folder outlived the server: {runs}"


class Raw:
    """A raw-HTTP session: a made-up ``session_hash``, no page, no heartbeat."""

    def __init__(self, app) -> None:
        self.url = app.url.rstrip("/")
        self.hash = uuid.uuid4().hex[:12]

    def upload(self, path: str) -> dict:
        with open(path, "rb") as f:
            r = httpx.post(f"{self.url}/gradio_api/upload", files={"files": (os.path.basename(path), f)}, timeout=60)
        r.raise_for_status()
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": os.path.basename(path)}

    def call(self, api: str, data: list) -> tuple:
        """("complete" | "error", payload) of one call."""
        body = json.dumps({"data": data, "session_hash": self.hash})
        r = httpx.post(f"{self.url}/gradio_api/call/{api}", content=body,
                       headers={"content-type": "application/json"}, timeout=60)
        if r.status_code != 200:
            return "http", (r.status_code, r.json())
        event_id = r.json()["event_id"]
        text = httpx.get(f"{self.url}/gradio_api/call/{api}/{event_id}", timeout=300).text
        kind = "error" if "event: error" in text else "complete"
        payload = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
        return kind, json.loads(payload)


def _status(payload) -> str:
    """The status line of an image endpoint's answer (its last output)."""
    return payload[-1] if isinstance(payload, (list, tuple)) else str(payload)


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_BOX_FILES = [  # (file name, content, what the message must say)
    ("deep.json", "[" * 100_000 + "]" * 100_000, "COCO file: deep.json nests 100000 levels deep"),
    ("ids.json", json.dumps([{"image_id": [1], "bbox": [1, 1, 5, 5]}]), "COCO file: annotation 0: image_id must be"),
    ("cats.json", json.dumps({"annotations": [], "categories": 5}), "COCO file: 'categories' must be a list"),
    ("str.json", json.dumps([{"bbox": "1234"}]), "bbox must be [x, y, width, height] (4 numbers), got '1234'"),
    ("huge.txt", "1e308 0.5 0.5 0.1 0.1\n", "YOLO file: 1 bad line: line 1: the class must be a whole number"),
    ("many.txt", "0 0.5 0.5 0.1 0.1\n" * 10_001, "YOLO file: 10001 box lines; at most 10000"),
]


def test_hostile_box_files_are_named_through_the_client_and_raw_http(app, tmp_path):
    # raw HTTP first: a session without a heartbeat lives UNCONNECTED_IDLE_S between calls
    raw = Raw(app)
    assert raw.call("load_image", [raw.upload(SHAPES)])[0] == "complete"
    for name, text, expected in BAD_BOX_FILES:
        kind, payload = raw.call("find_boxes_file", [raw.upload(_write(tmp_path, name, text)), 0.0])
        assert kind == "complete" and expected in _status(payload), (name, payload)
    client = Client(app.url, verbose=False)
    try:
        client.predict(handle_file(SHAPES), api_name="/load_image")
        for name, text, expected in BAD_BOX_FILES:
            status = _status(client.predict(handle_file(str(tmp_path / name)), 0.0, api_name="/find_boxes_file"))
            assert expected in status, (name, status)
        # a fine file still works afterwards, and labels are cut like object names
        good = _write(tmp_path, "good.json", json.dumps({
            "annotations": [{"bbox": [100, 100, 200, 150], "category_id": 1}],
            "categories": [{"id": 1, "name": "x" * 5000}]}))
        status = _status(client.predict(handle_file(good), 0.0, api_name="/find_boxes_file"))
        assert "Found 1 " + "x" * 40 + " " in status and "x" * 41 not in status, status
    finally:
        client.close()


def test_null_and_huge_numbers_get_the_same_clear_messages(app):
    raw = Raw(app)
    assert raw.call("load_image", [raw.upload(SHAPES)])[0] == "complete"
    kind, payload = raw.call("pick_candidate", [None])
    assert kind == "complete" and "candidate index must be a number (it was empty)" in _status(payload)
    kind, payload = raw.call("select_object", [None])
    assert kind == "complete" and "object index must be a number (it was empty)" in _status(payload)
    kind, payload = raw.call("find_boxes_file", [[None], 0.0])
    assert kind == "error" and "Input 1 of /find_boxes_file" in payload["error"] and "handle_file" in payload["error"]
    kind, payload = raw.call("find_boxes_file", [None, 0.0])
    assert kind == "complete" and "Upload a COCO detections .json or a YOLO .txt file" in _status(payload)
    kind, payload = raw.call("pick_candidate", [])
    assert kind == "error" and "/pick_candidate takes 1 input" in payload["error"]

    client = Client(app.url, verbose=False)
    try:
        client.predict(handle_file(SHAPES), api_name="/load_image")
        assert "candidate index must be a number" in _status(client.predict(None, api_name="/pick_candidate"))
        client.predict(handle_file(CLIP), api_name="/video_load")
        big = 10 ** 400
        out = client.predict(big, api_name="/video_show_frame")
        status = next(v for v in out if isinstance(v, str) and "frame" in v)
        assert "Frame a 401-digit number is outside the clip" in status, status
        out = client.predict(big, api_name="/video_select_object")
        assert any(isinstance(v, str) and "object id must be" in v and "401-digit" in v for v in out), out
        out = client.predict(big, 10, 10, True, 1, api_name="/video_add_point")
        assert any(isinstance(v, str) and "Frame a 401-digit number is outside" in v for v in out), out
        raw_video = Raw(app)
        raw_video.hash = client.session_hash  # the same session, by raw HTTP
        kind, payload = raw_video.call("video_show_frame", [big])
        assert kind == "complete" and any(isinstance(v, str) and "401-digit" in v for v in payload), payload
    finally:
        client.close()


def test_unknown_endpoints_answer_404_without_a_traceback(app):
    raw = Raw(app)
    kind, (status, body) = raw.call("no_such_endpoint", [1])
    assert kind == "http" and status == 404 and "/gradio_api/info" in body["error"]
    r = httpx.post(app.url + "gradio_api/queue/join", json={"data": [], "fn_index": 99999, "session_hash": raw.hash})
    assert r.status_code == 404 and "fn_index 99999" in r.json()["error"]


def test_sessions_without_a_heartbeat_are_bounded_per_client_and_age_out(app):
    time.sleep(UNCONNECTED_IDLE_S + 4)  # earlier tests' raw sessions are gone by now
    client = Client(app.url, verbose=False)  # a connected session (heartbeat) from the same address
    try:
        client.predict(handle_file(SHAPES), api_name="/load_image")
        raws = [Raw(app) for _ in range(PER_CLIENT)]
        upload = raws[0].upload(SHAPES)
        for r in raws[:-1]:
            assert "Image loaded" in _status(r.call("load_image", [upload])[1])
        status = _status(raws[-1].call("load_image", [upload])[1])
        assert f"The server is busy: your address already has {PER_CLIENT} sessions" in status, status
        time.sleep(UNCONNECTED_IDLE_S + 5)  # the never-connected sessions go; the client's stays
        status = _status(raws[0].call("add_point", [500, 400, True])[1])
        assert "Load an image first" in status, status
        assert "busy" not in _status(client.predict(500, 400, True, api_name="/add_point"))
        assert "Image loaded" in _status(raws[-1].call("load_image", [upload])[1])
    finally:
        client.close()


def test_files_live_in_the_run_folder_and_the_log_has_no_traceback(app):
    root = app.tmp / "sam2-studio"
    runs = os.listdir(root)
    assert len(runs) == 1 and runs[0].startswith("run-") and runs[0] != "run-999999999-1"
    assert "gradio" in os.listdir(root / runs[0])  # uploads went into the run's folder
    # no file the app wrote lies outside it (Gradio makes an empty folder at import, before app.py runs)
    outside = [os.path.join(top, f) for top, _, files in os.walk(app.tmp)
               if not top.startswith(str(root)) for f in files]
    assert outside == []
    assert "Traceback" not in app.log(), app.log()[-3000:]
