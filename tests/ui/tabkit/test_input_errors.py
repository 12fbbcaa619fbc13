"""``explain_input_errors`` on a two-endpoint demo in this process: inputs Gradio itself cannot
convert (``[null]`` for a file, too few inputs) get a message naming the endpoint, the input
and what it takes, instead of ``error: null``; good inputs still reach the handler."""

from __future__ import annotations

import json
import os

import gradio as gr
import pytest

from tests.support.app import launch_demo
from tests.support.hub_cache import REPO_ROOT
from ui.tabkit.input_errors import explain_input_errors

httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def url():
    with gr.Blocks() as demo:
        upload = gr.File(label="Box file")
        number = gr.Number(label="Frame")
        out = gr.Textbox()
        go = gr.Button()
        go.click(lambda f, n: f"{os.path.basename(f) if f else None} {n}", [upload, number], out, api_name="use_file")
    explain_input_errors(demo)
    yield launch_demo(demo)
    demo.close()


def _call(url: str, name: str, data: list):
    """(event kind, payload) of a raw-HTTP call: ``complete`` with outputs or ``error`` with
    its message."""
    with httpx.Client(timeout=30) as client:
        event_id = client.post(f"{url}gradio_api/call/{name}", json={"data": data}).json()["event_id"]
        text = client.get(f"{url}gradio_api/call/{name}/{event_id}").text
    kind = payload = None
    for line in text.splitlines():
        if line.startswith("event: "):
            kind = line[len("event: "):]
        elif line.startswith("data: ") and kind in ("complete", "error"):
            payload = json.loads(line[len("data: "):])
    if kind == "error" and isinstance(payload, dict):
        payload = payload.get("error")
    return kind, payload


def test_null_file_and_too_few_inputs_are_named(url):
    kind, message = _call(url, "use_file", [[None], 3])
    assert kind == "error" and message and "/use_file" in message and "Box file" in message, message
    assert "handle_file" in message  # what to send instead
    kind, message = _call(url, "use_file", [])
    assert kind == "error" and "takes 2 inputs" in message and "sent 0" in message, message


def test_good_inputs_still_reach_the_handler(url):
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    try:
        assert client.predict(handle_file(os.path.join(REPO_ROOT, "examples", "shapes.png")), 4,
                              api_name="/use_file") == "shapes.png 4"
    finally:
        client.close()
