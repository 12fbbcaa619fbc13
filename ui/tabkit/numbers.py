"""``gr.Number``, ``gr.Slider`` and ``gr.Radio`` that leave odd values to the handler's own check.

Gradio's own preprocessing fails on what a hand-made request can send (a string, NaN in a
precision-0 box: a bare exception, shown as an anonymous error) and silently rounds a
fractional value in a precision-0 box (frame 2.5 becomes 2). These subclasses hand such
values to the event handler unchanged, where ``ui.common.inputs`` turns them into a message that
names the field ("frame must be a whole number, got 2.5"). An integer too large for a
float (a 401-digit frame number) is handed over the same way: Gradio's own conversion
would fail on it with an anonymous ``OverflowError``. ``ChoiceRadio`` does the same for a
radio of numbered choices (objects, candidates): a value that is not one of its choices
reaches the handler, whose check names the field and the valid range, instead of
Gradio's "Value: 1000...000 is not in the list of choices". Valid values are processed as
Gradio does; the page looks and behaves the same.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from ui.canvas.gradio_stubs import skip_stub_files

skip_stub_files()  # before the class statements: no numbers.pyi beside this file


def _plain_number(payload: Any) -> bool:
    if not isinstance(payload, (int, float)) or isinstance(payload, bool):
        return False
    try:
        return math.isfinite(float(payload))
    except OverflowError:  # an int beyond float's range
        return False


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


class ChoiceRadio(gr.Radio):
    """``gr.Radio``; a value that is not one of the choices reaches the handler as sent (the
    handler checks it, e.g. with ``ui.common.inputs.whole_number``)."""

    @classmethod
    def get_block_name(cls) -> str:
        return "radio"

    def preprocess(self, payload: Any) -> Any:
        try:
            if payload is None or payload in [value for _, value in self.choices]:
                return super().preprocess(payload)
        except TypeError:  # an unhashable / uncomparable payload
            pass
        return payload
