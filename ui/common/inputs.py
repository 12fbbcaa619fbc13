"""Numbers from the page or the API, checked once, with a message a user can act on.

Gradio hands handlers whatever the client sent: ``None`` for an emptied number box,
``NaN``/``inf`` from a JSON client, ``2.5`` where a frame index is meant, a string from a
hand-written request. Both tabs' handlers pass such values through ``number`` or
``whole_number``, which return a clean ``float``/``int`` or raise ``UserError`` ("x must
be a number", "frame must be a whole number"): never a ``TypeError`` from deep inside.
"""

from __future__ import annotations

import math
from typing import Optional

from ui.common.errors import UserError


def number(value: object, name: str, low: Optional[float] = None, high: Optional[float] = None) -> float:
    """``value`` as a finite float (within [low, high] when given), else ``UserError``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{name} must be a number (it was empty).")
    if isinstance(value, bool):
        raise UserError(f"{name} must be a number, got {value!r}.")
    if isinstance(value, int) and _too_large(value):
        f = math.inf if value > 0 else -math.inf  # a 401-digit integer: a number, just out of any range
        if low is not None or high is not None:
            _check_range(f, name, low, high, value)
        raise UserError(f"{name} must be a finite number, got {_show(value)}.")
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{name} must be a number, got {_show(value)}.") from None
    if not math.isfinite(f):
        raise UserError(f"{name} must be a number, got {_show(value)}.")
    _check_range(f, name, low, high, value)
    return f


def _too_large(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _check_range(f: float, name: str, low: Optional[float], high: Optional[float], value: object) -> None:
    shown = _show(value) if isinstance(value, int) and _too_large(value) else f"{f:g}"
    if low is not None and high is not None and not low <= f <= high:
        raise UserError(f"{name} must be between {low:g} and {high:g}, got {shown}.")
    if low is not None and f < low:
        raise UserError(f"{name} must be at least {low:g}, got {shown}.")
    if high is not None and f > high:
        raise UserError(f"{name} must be at most {high:g}, got {shown}.")


def whole_number(value: object, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``value`` as an int (``3.0`` is fine, ``2.5`` is not), within [low, high] when given."""
    if isinstance(value, int) and not isinstance(value, bool) and _too_large(value):
        if low is not None and high is not None:
            raise UserError(f"{name} must be a whole number from {low} to {high}, got {_show(value)}.")
        number(value, name, low, high)  # raises, naming the bound
    f = number(value, name)
    if f != int(f):
        raise UserError(f"{name} must be a whole number, got {f:g}.")
    i = int(f)
    if low is not None and high is not None and not low <= i <= high:
        raise UserError(f"{name} must be a whole number from {low} to {high}, got {i}.")
    return int(number(i, name, low, high))


def _digits(value: int) -> int:
    """Decimal digits of ``value`` (estimated where Python refuses to print an int that long)."""
    try:
        return len(str(abs(value)))
    except ValueError:
        return int(abs(value).bit_length() * 0.30102999566398120) + 1


def shown(value: object) -> str:
    """``value`` as a message shows it: short ("a 401-digit number" for a huge integer)."""
    return _show(value)


def _show(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and _too_large(value):
        return f"a {_digits(value)}-digit number"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
