"""A file reference that is a URL inside a request body is refused, never fetched.

Gradio downloads a FileData whose ``path`` is an http(s) URL into its cache while
preprocessing the input, streamed to disk with no size limit: it would bypass the upload
limit and make the server send requests for a client. The app accepts only files that went
through the upload route (``ui.common.request_limits.RemoteFileRefGuard``); this launches the real
app and checks that such requests get a 400 with a clear message and that a local HTTP
server named in them is never contacted, while gradio_client uploads still work.
"""

from __future__ import annotations

import http.server
import json
import os
import threading

import pytest

from tests.support.hub_cache import REPO_ROOT, AppProcess, hf_cache_env

gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")
from gradio_client import Client, handle_file  # noqa: E402

SHAPES = os.path.join(REPO_ROOT, "examples", "shapes.png")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    env = hf_cache_env(str(tmp_path_factory.mktemp("hf_home")))
    with AppProcess(["--no-video", "--device", "cpu"], env) as proc:
        yield proc


@pytest.fixture()
def file_server():
    """An HTTP server on loopback serving a PNG; ``server.hits`` counts the requests it got."""
    with open(SHAPES, "rb") as f:
        png = f.read()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(png)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(png)

        do_GET = do_HEAD = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hits = hits
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _load_image_fn_index(http) -> int:
    config = http.get("config").json()
    return next(i if "id" not in d else d["id"] for i, d in enumerate(config["dependencies"])
                if d.get("api_name") == "load_image")


def test_url_file_references_are_refused_and_never_fetched(app, file_server):
    base = f"http://127.0.0.1:{file_server.server_address[1]}"
    meta = {"_type": "gradio.FileData"}
    refs = [
        {"path": f"{base}/huge.png", "meta": meta},
        {"path": f"{base}/huge.png", "url": f"{base}/huge.png", "orig_name": "huge.png", "meta": meta},
        {"url": f"{base}/huge.png", "meta": meta},
        {"path": f" HTTPS://127.0.0.1:{file_server.server_address[1]}/x.png", "meta": meta},
        {"path": f"ftp://127.0.0.1:{file_server.server_address[1]}/x.png", "meta": meta},
    ]
    with httpx.Client(base_url=app.url, timeout=60) as http:
        fn_index = _load_image_fn_index(http)
        for ref in refs:
            bodies = (("gradio_api/call/load_image", {"data": [ref]}),
                      ("gradio_api/queue/join", {"data": [ref], "fn_index": fn_index, "session_hash": "urlref1"}),
                      ("gradio_api/run/load_image", {"data": [ref]}))
            for route, body in bodies:
                r = http.post(route, content=json.dumps(body), headers={"content-type": "application/json"})
                assert r.status_code == 400, (route, ref, r.status_code, r.text[:300])
                message = r.json()["detail"]
                assert "only accepts files uploaded" in message and "handle_file" in message, message
                assert "/tmp" not in message and "huge.png" not in message, message
        # Nested deeper (a list inside the data) and with the reference first in a chunked body.
        nested = json.dumps({"data": [[{"x": {"path": f"{base}/n.png", "meta": meta}}]]}).encode()
        r = http.post("gradio_api/call/load_image", content=iter([nested[:7], nested[7:]]),
                      headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text[:300]
        # Ordinary requests still pass.
        assert http.get("gradio_api/info").status_code == 200
    assert file_server.hits == [], f"the app fetched {file_server.hits}"
    print(f"{len(refs) * 3 + 1} requests with URL file references refused with 400; "
          f"local file server received {len(file_server.hits)} requests")


def test_gradio_client_upload_still_works(app):
    client = Client(app.url, verbose=False)
    try:
        *_, status = client.predict(handle_file(SHAPES), api_name="/load_image")
        assert "Image loaded" in status
        *_, status = client.predict(230, 260, True, api_name="/add_point")
        assert "1 foreground" in status
    finally:
        client.close()
