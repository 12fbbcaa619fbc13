"""ui.tabkit.api_wiring.ApiWiring: where an endpoint hangs, what it returns, what follows it."""

from __future__ import annotations

import gradio as gr
import pytest

from ui.tabkit.api_wiring import ApiWiring


def _named(demo: gr.Blocks) -> dict:
    """{api_name: dependency} of the demo's events that have one."""
    return {d.api_name: d for d in demo.fns.values() if d.api_name}


def _triggers(demo: gr.Blocks, dep) -> list:
    """The blocks whose events fire ``dep``."""
    return [demo.blocks[block_id] for block_id, _ in dep.targets]


def test_endpoints_hang_on_the_trigger_or_their_own_event_and_return_the_api_outputs():
    synced = []
    with gr.Blocks() as demo:
        hidden = gr.Button("api", visible=False)
        page_button = gr.Button("Add point")
        x = gr.Number()
        picture, status, info = gr.Image(), gr.Markdown(), gr.JSON()

        def page_sync(event, **how):
            synced.append(how)
            return event.then(lambda: None, None, None, api_visibility="private")

        api = ApiWiring([picture, status], trigger=hidden.click, page_sync=page_sync)
        api.endpoint(lambda x: (None, "ok"), [x], "on_hidden")
        api.endpoint(lambda x: (None, "ok"), [x], "on_page", on=page_button.click, sync=dict(clip=True))
        api.endpoint(lambda: {}, None, "own_outputs", outputs=[info])
        api.endpoint(lambda: (None, "ok"), None, "no_sync", sync=False)
    eps = _named(demo)
    assert _triggers(demo, eps["on_hidden"]) == [hidden]
    assert _triggers(demo, eps["on_page"]) == [page_button]
    assert list(eps["on_hidden"].outputs) == [picture, status]
    assert list(eps["own_outputs"].outputs) == [info]
    # The page-sync step follows the endpoints that return the tab's outputs, unless told not to.
    assert synced == [{}, {"clip": True}]


def test_a_list_of_events_and_no_default_trigger():
    with gr.Blocks() as demo:
        button, box = gr.Button(), gr.Textbox()
        api = ApiWiring([box])
        with pytest.raises(ValueError, match="on="):
            api.endpoint(lambda: "x", None, "nowhere")
        api.endpoint(lambda: "x", None, "either", on=[button.click, box.submit])
        assert api.sync("event") == "event"  # no page-sync step: the event itself
    assert _triggers(demo, _named(demo)["either"]) == [button, box]
