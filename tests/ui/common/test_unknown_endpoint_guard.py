"""``UnknownEndpointGuard`` on its own (an ASGI app that records what reaches it): a call to an
endpoint the app does not have gets a 404 with a message and never reaches Gradio; every call
it knows goes through with its body intact, ``/gradio_api/run/predict`` by ``fn_index``
included (the page's examples use it: refusing it once made picking an example do nothing)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from ui.common.request_limits import UnknownEndpointGuard


class _Blocks:
    fns = {0: SimpleNamespace(api_name="add_point"), 1: SimpleNamespace(api_name=None)}


class _App:
    """What the guard asks of Gradio's app (``get_blocks().fns``) and what reached it."""

    def __init__(self):
        self.seen = []

    def get_blocks(self):
        return _Blocks()

    async def __call__(self, scope, receive, send):
        message = await receive()
        self.seen.append((scope["path"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(path: str, body: object = None, method: str = "POST"):
    """(status, answer body, what reached the app) for one request through the guard."""
    app = _App()
    raw = b"" if body is None else json.dumps(body).encode()
    sent = []

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "app": app}
    asyncio.run(UnknownEndpointGuard(app)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, answer, app.seen


def test_unknown_names_and_indexes_get_a_404_with_a_message():
    for path, body, words in [
        ("/gradio_api/call/nope", {"data": []}, "no API endpoint named '/nope'"),
        ("/gradio_api/call/v2/nope", {"data": []}, "no API endpoint named '/nope'"),
        ("/gradio_api/queue/join", {"fn_index": 99, "data": []}, "no event with fn_index 99"),
        ("/gradio_api/queue/join", {"fn_index": "0", "data": []}, "no event with fn_index 0"),
        ("/gradio_api/run/predict", {"fn_index": 7, "data": []}, "no event with fn_index 7"),
    ]:
        status, answer, seen = _call(path, body)
        assert status == 404 and seen == [], (path, status, seen)
        message = json.loads(answer)["error"]
        assert words in message and "/gradio_api/info" in message, message


def test_known_calls_reach_the_app_with_their_body():
    for path, body in [("/gradio_api/call/add_point", {"data": [1, 2, True]}),
                       ("/gradio_api/queue/join", {"fn_index": 1, "data": [], "session_hash": "s"}),
                       ("/gradio_api/run/predict", {"fn_index": 1, "data": [0]})]:
        status, answer, seen = _call(path, body)
        assert (status, answer) == (200, b"ok"), path
        assert seen == [(path, json.dumps(body).encode())], seen
    # other routes and methods are not the guard's business
    assert _call("/gradio_api/upload", {"x": 1})[0] == 200
    assert _call("/gradio_api/call/nope", method="GET")[0] == 200
