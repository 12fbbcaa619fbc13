"""The errors a user can act on, one type each, shared by every part of ``ui``.

* ``UserError``: a mistake the user can fix (a click outside the picture, no image yet, a bad
  file, a number out of range). Its message is shown as it is.
* ``Notice``: a ``UserError`` that reports what the user asked for (a Cancel); information,
  not a mistake.
* ``ModelUnavailableError``: the weights cannot be had here (not cached, no Hub, broken). Its
  message names the fix; its ``detail`` is the full story for the server log.

``ui.tabkit.guard`` turns both into messages on the page; anything else is a bug.
"""

from __future__ import annotations

from typing import Optional


class UserError(ValueError):
    """An input or action the app cannot use; the message is shown to the user as is."""


class Notice(UserError):
    """Not a mistake: the outcome of what the user asked for (a Cancel) that ends the action
    early. Shown as information (``gr.Info``), not as a warning."""


class ModelUnavailableError(RuntimeError):
    """The weights could not be obtained or loaded.

    ``str(exc)`` is the short message for the page (what happened and how to fix it, no
    server paths); ``detail`` is the full story for the server log. ``offline`` is True
    when the weights are simply not here (not cached, no Hub), False when they are here
    but broken.
    """

    def __init__(self, message: str, detail: Optional[str] = None, model_id: Optional[str] = None,
                 offline: bool = False) -> None:
        super().__init__(message)
        self.detail = detail or message
        self.model_id = model_id
        self.offline = offline

    def again(self, prefix: str = "", suffix: str = "") -> "ModelUnavailableError":
        """A fresh copy (re-raising one instance would grow its traceback), optionally reworded."""
        return ModelUnavailableError(f"{prefix}{self}{suffix}", self.detail, self.model_id, self.offline)
