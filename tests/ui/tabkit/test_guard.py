"""ui.common.errors.guarded: what an unexpected exception shows in the page."""

from __future__ import annotations

import gradio as gr
import pytest

from ui.tabkit.guard import guarded


def test_unexpected_error_shows_its_type_but_no_server_path():
    status = object()

    @guarded(status)
    def handler():
        raise FileNotFoundError(2, "No such file or directory", "/tmp/sam2_app_x1/export/clip_coco.json")

    with pytest.raises(gr.Error) as info:
        handler()
    text = str(info.value.message)
    assert "FileNotFoundError" in text and "still usable" in text
    assert "/tmp" not in text and "sam2_app" not in text, text


def test_generator_handler_errors_are_translated_the_same_way():
    status = object()

    @guarded(status, generator=True)
    def handler():
        yield {status: "working"}
        raise RuntimeError("internal detail at /srv/app/ui/x.py")

    gen = handler()
    assert next(gen) == {status: "working"}
    with pytest.raises(gr.Error) as info:
        next(gen)
    assert "RuntimeError" in info.value.message and "/srv" not in info.value.message
