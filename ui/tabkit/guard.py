"""Turn exceptions into messages a user can act on, never a stack trace in the page.

* ``UserError`` (a mistake the user can fix: click outside, no image yet, bad file):
  a yellow ``gr.Warning`` toast plus the same words in the tab's status line; the other
  outputs keep their values, so the session carries on where it was.
* ``Notice`` (a ``UserError`` that reports what the user asked for, e.g. a Cancel): the
  same, but a blue ``gr.Info`` toast and an "ℹ️" in the status line; it is not a mistake.
* ``ModelUnavailableError`` (the weights cannot be had here): the same as a
  ``UserError``: a short toast that names the fix and the same words in the status
  line, while the picture and the rest stay as they were (raising would put red "Error"
  badges on every output). Its full detail is in the server log (``ModelRegistry``).
* Anything else: logged with its traceback on the server, and a short ``gr.Error``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import gradio as gr

from ui.common.errors import ModelUnavailableError, Notice, UserError

log = logging.getLogger("sam2.app")
F = TypeVar("F", bound=Callable[..., Any])


def guarded(status: Any, generator: bool = False, model_toast: bool = True) -> Callable[[F], F]:
    """Decorate an event handler whose outputs include the ``status`` component.

    Handlers return dicts ``{component: value}``; on a ``UserError`` only ``status`` is
    updated; an empty dict (nothing to change) leaves every output as it was. With
    ``generator=True`` the handler is a generator and the same rules apply
    to whatever it raises while streaming.

    ``model_toast=False``: a ``ModelUnavailableError`` updates the status line only, for
    handlers of an event whose other handler already shows the same toast (the shared
    model dropdown drives both tabs).
    """

    def handle(exc: BaseException) -> dict:
        if isinstance(exc, Notice):
            gr.Info(str(exc).replace("`", ""))
            return {status: f"ℹ️ {exc}"}
        if isinstance(exc, (UserError, ModelUnavailableError)):
            if model_toast or not isinstance(exc, ModelUnavailableError):
                gr.Warning(str(exc).replace("`", ""))  # toasts show Markdown as typed
            return {status: f"⚠️ {exc}"}
        if isinstance(exc, gr.Error):
            raise exc
        log.exception("event handler failed")
        # Only the exception's type reaches the page: its text may hold server paths or
        # internals (an OSError names the file). The server log has the whole traceback.
        raise gr.Error(f"Something went wrong ({type(exc).__name__}; details are in the server log). "
                       "The session is still usable.", print_exception=False) from None  # logged above

    def nothing_to_empty(result: Any) -> Any:
        # Gradio takes an empty dict for one output value ("didn't return enough output
        # values"); "change nothing" is said by skipping the status line.
        return {status: gr.skip()} if isinstance(result, dict) and not result else result

    def wrap(fn: F) -> F:
        if generator:
            @functools.wraps(fn)
            def gen_inner(*args: Any, **kwargs: Any):
                try:
                    for item in fn(*args, **kwargs):
                        yield nothing_to_empty(item)
                except Exception as exc:  # noqa: BLE001 - translated for the user
                    yield handle(exc)

            return gen_inner  # type: ignore[return-value]

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any):
            try:
                return nothing_to_empty(fn(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - translated for the user
                return handle(exc)

        return inner  # type: ignore[return-value]

    return wrap
