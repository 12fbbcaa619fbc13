"""``gr.Number`` and ``gr.Slider`` that leave odd values to the handler's own check.

Gradio's own preprocessing fails on what a hand-made request can send (a string, NaN in a
precision-0 box: a bare exception, shown as an anonymous error) and silently rounds a
fractional value in a precision-0 box (frame 2.5 becomes 2). These subclasses hand such
values to the event handler unchanged, where ``ui.common.inputs`` turns them into a message that
names the field ("frame must be a whole number, got 2.5"). Valid values are processed as
Gradio does; the page looks and behaves the same.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr


def _plain_number(payload: Any) -> bool:
    return (isinstance(payload, (int, float)) and not isinstance(payload, bool)
            and math.isfinite(float(payload)))


class NumberBox(gr.Number):
    """``gr.Number``; non-numbers and (with ``precision=0``) fractions reach the handler as sent."""

    @classmethod
    def get_block_name(cls) -> str:
        return "number"

    def preprocess(self, payload: Any) -> Any:
        if not _plain_number(payload) or (self.precision == 0 and payload != int(payload)):
            return payload
        return super().preprocess(payload)


class NumberSlider(gr.Slider):
    """``gr.Slider``; non-numbers reach the handler as sent (numbers get the slider's bounds check)."""

    @classmethod
    def get_block_name(cls) -> str:
        return "slider"

    def preprocess(self, payload: Any) -> Any:
        if not _plain_number(payload):
            return payload
        return super().preprocess(payload)
