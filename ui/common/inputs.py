"""Numbers from the page or the API, checked once, with a message a user can act on.

Gradio hands handlers whatever the client sent: ``None`` for an emptied number box,
``NaN``/``inf`` from a JSON client, ``2.5`` where a frame index is meant, a string from a
hand-written request. Both tabs' handlers pass such values through ``number`` or
``whole_number``, which return a clean ``float``/``int`` or raise ``PromptError`` ("x must
be a number", "frame must be a whole number"): never a ``TypeError`` from deep inside.
"""

from __future__ import annotations

import math
from typing import Optional

from ui.common.prompts import PromptError


def number(value: object, name: str, low: Optional[float] = None, high: Optional[float] = None) -> float:
    """``value`` as a finite float (within [low, high] when given), else ``PromptError``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PromptError(f"{name} must be a number (it was empty).")
    if isinstance(value, bool):
        raise PromptError(f"{name} must be a number, got {value!r}.")
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise PromptError(f"{name} must be a number, got {_show(value)}.") from None
    if not math.isfinite(f):
        raise PromptError(f"{name} must be a number, got {_show(value)}.")
    if low is not None and high is not None and not low <= f <= high:
        raise PromptError(f"{name} must be between {low:g} and {high:g}, got {f:g}.")
    if low is not None and f < low:
        raise PromptError(f"{name} must be at least {low:g}, got {f:g}.")
    if high is not None and f > high:
        raise PromptError(f"{name} must be at most {high:g}, got {f:g}.")
    return f


def whole_number(value: object, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``value`` as an int (``3.0`` is fine, ``2.5`` is not), within [low, high] when given."""
    f = number(value, name)
    if f != int(f):
        raise PromptError(f"{name} must be a whole number, got {f:g}.")
    i = int(f)
    if low is not None and high is not None and not low <= i <= high:
        raise PromptError(f"{name} must be a whole number from {low} to {high}, got {i}.")
    return int(number(i, name, low, high))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
