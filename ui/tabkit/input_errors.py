"""A clear message for a request whose inputs Gradio cannot even convert.

Gradio converts each input (``Blocks.preprocess_data``) before an event handler runs, so the
handler's own checks (``ui.common.inputs``, ``ui.tabkit.guard.guarded``) never see a value Gradio fails
on: ``[null]`` where a file reference is expected (a pydantic ``ValidationError``), too few
inputs, a number Gradio's own conversion chokes on. Such failures reach the client as
``error: null`` and the server log as a traceback. ``explain_input_errors(demo)`` wraps the
demo's conversion: any failure other than a ``gr.Error`` becomes a ``gr.Error`` that names
the endpoint, the input and what it takes, and the log gets one line instead of a traceback.

The components that can (``ui.tabkit.numbers``) hand odd values on to the handler, whose
message names the field and its range; this wrapper catches what is left.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

import gradio as gr

log = logging.getLogger("sam2.app")

#: What each kind of input takes, for the message (by Gradio's block name).
_TAKES = {
    "file": 'an uploaded file: {"path": <the path /gradio_api/upload returned>, "meta": {"_type": '
            '"gradio.FileData"}} (with gradio_client: handle_file(path))',
    "video": 'an uploaded video: {"video": {"path": ..., "meta": {"_type": "gradio.FileData"}}} '
             "(with gradio_client: handle_file(path))",
    "image": 'an uploaded image: {"path": ..., "meta": {"_type": "gradio.FileData"}} '
             "(with gradio_client: handle_file(path))",
    "number": "a number",
    "slider": "a number",
    "radio": "one of its choices",
    "checkbox": "true or false",
    "textbox": "a text",
    "dropdown": "one of its choices",
}


def _name(block_fn: Any) -> str:
    api_name = getattr(block_fn, "api_name", None)
    return f"/{api_name}" if api_name else "this event"


def _label(block: Any) -> str:
    label = getattr(block, "label", None)
    kind = block.get_block_name() if hasattr(block, "get_block_name") else type(block).__name__.lower()
    return f"{kind} '{label}'" if label else kind


def _failing_input(block_fn: Any, inputs: List[Any]) -> Optional[int]:
    """The first input whose value does not fit its component's data model (None: unknown)."""
    for i, block in enumerate(getattr(block_fn, "inputs", [])):
        if i >= len(inputs):
            return i
        model = getattr(block, "data_model", None)
        if model is None or inputs[i] is None:
            continue
        try:
            model.model_validate(inputs[i])
        except Exception:  # noqa: BLE001 - any failure marks the input
            return i
    return None


def input_error_message(block_fn: Any, inputs: List[Any]) -> str:
    """The message for a request whose inputs Gradio could not convert."""
    blocks = list(getattr(block_fn, "inputs", []))
    if len(inputs) < len(blocks):
        return (f"{_name(block_fn)} takes {len(blocks)} input{'s' if len(blocks) != 1 else ''} "
                f"({', '.join(_label(b) for b in blocks)}); the request sent {len(inputs)}. "
                "See /gradio_api/info for what each endpoint takes.")
    i = _failing_input(block_fn, inputs)
    if i is None:
        return (f"The inputs sent to {_name(block_fn)} do not fit its input boxes "
                f"({', '.join(_label(b) for b in blocks)}). See /gradio_api/info for what each endpoint takes.")
    block = blocks[i]
    takes = _TAKES.get(block.get_block_name() if hasattr(block, "get_block_name") else "", "a valid value")
    return (f"Input {i + 1} of {_name(block_fn)} ({_label(block)}) must be {takes}; the request sent "
            f"something else. See /gradio_api/info for what each endpoint takes.")


def explain_input_errors(demo: gr.Blocks) -> gr.Blocks:
    """Make ``demo`` answer inputs it cannot convert with ``input_error_message``."""
    original = demo.preprocess_data

    async def preprocess_data(block_fn: Any, inputs: List[Any], state: Any, explicit_call: bool = False) -> Any:
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - answered with a message, logged on one line
            message = input_error_message(block_fn, list(inputs or []))
            log.warning("refused a request to %s: %s (%s)", _name(block_fn), message, type(exc).__name__)
            raise gr.Error(message, print_exception=False) from None

    demo.preprocess_data = preprocess_data  # type: ignore[method-assign]
    return demo
