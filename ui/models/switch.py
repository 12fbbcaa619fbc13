"""Switching a session's model as one transaction, the same on both sides.

A switch either completes (the new model loaded and applied to what the session holds) or
leaves the session exactly as it was; a model that cannot be had here is refused with a
message that names the model that stays. The sides say what to save, apply and restore.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ui.common.errors import ModelUnavailableError, UserError
from ui.models.names import model_label


def resolve_model(resolve: Callable[[Optional[str]], str], model_key: Optional[str]) -> str:
    """The model id for what the user named; an unknown name is the user's to fix."""
    try:
        return resolve(model_key)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def switch_model(resolve: Callable[[Optional[str]], str], require_available: Callable[[str], Any],
                 current: Optional[str], wanted: Optional[str], *, save: Callable[[], Any],
                 apply: Callable[[str], None], restore: Callable[[Any], None]) -> bool:
    """Make ``wanted`` the session's model; returns whether it changed.

    ``save()`` snapshots what a failed switch must put back, ``apply(new_id)`` loads the new
    model and applies it (committing the session's model key), ``restore(saved)`` undoes a
    partial ``apply``. Nothing happens when ``wanted`` is already the session's model.
    """
    new_id = resolve_model(resolve, wanted)
    old_id = resolve(current)
    if old_id == new_id:
        return False
    saved = save()
    try:
        require_available(new_id)  # at once when the weights are known to be missing
        apply(new_id)
    except Exception as exc:
        restore(saved)
        if isinstance(exc, ModelUnavailableError):
            raise exc.again(suffix=f" Still using {model_label(old_id)}.") from None
        raise
    return True
