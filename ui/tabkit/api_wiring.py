"""How a tab hangs its named API endpoints (``gradio_client``): one way, for both tabs.

A named endpoint is a handler, its inputs and an ``api_name`` on some event. Both tabs
register theirs through ``ApiWiring.endpoint`` so that the three choices each one makes are
made in one place and read the same on both sides:

* **where it hangs**: on the tab's API trigger -- the image tab's hidden ``image-api``
  button, which the page never presses (its canvas has private handlers of its own) -- or
  on the page control named by ``on=``, when pressing that control on the page is the same
  action (the video tab's "Add point" runs ``/video_add_point``);
* **what it returns**: the tab's API outputs (what ``gradio_client`` has always got: the
  overlay or frame picture, objects, status...), unless it names its own (downloads, info);
* **what follows it on the page**: where the page shows that action differently (the video
  tab's canvas and frame number), the tab's page-sync step runs after it, as a private step
  of its own, so that the endpoint keeps its outputs.

The endpoints' parameter names are those of the handlers, their types and defaults those
of the input components: nothing here changes what ``view_api`` shows.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, Union

import gradio as gr

#: ``page_sync(event, **how)``: chain the page's catch-up step after ``event``; returns it.
PageSync = Callable[..., Any]


class ApiWiring:
    """A tab's named endpoints: their default trigger, their outputs, the page's sync step.

    ``outputs``: the tab's API outputs. ``trigger``: the event listener endpoints hang on
    when they name none (e.g. ``hidden_button.click``). ``page_sync``: see the module
    docstring; None when the page needs no catch-up after an endpoint.
    """

    def __init__(self, outputs: Sequence[Any], trigger: Optional[Callable[..., Any]] = None,
                 page_sync: Optional[PageSync] = None) -> None:
        self.outputs = list(outputs)
        self.trigger = trigger
        self.page_sync = page_sync

    def endpoint(self, fn: Callable[..., Any], inputs: Optional[Sequence[Any]], api_name: str, *,
                 on: Union[Callable[..., Any], Sequence[Callable[..., Any]], None] = None,
                 outputs: Optional[Sequence[Any]] = None, sync: Union[bool, Mapping[str, Any]] = True,
                 **event_kw: Any) -> Any:
        """Publish ``fn`` as ``/api_name``; returns its event (for ``.then``, ``cancels=``).

        ``on``: a listener such as ``button.click`` or ``event.then`` (or a list of them, for
        ``gr.on``); default the wiring's trigger. ``outputs``: default the tab's API outputs.
        ``sync``: the page-sync step's keyword arguments, True for none, False for no step;
        it follows only endpoints that return the tab's API outputs. ``event_kw``: queue
        settings and the rest, as for any Gradio event.
        """
        listener = self.trigger if on is None else on
        if listener is None:
            raise ValueError(f"/{api_name}: this tab has no API trigger; name the event it hangs on (on=...)")
        returns_view = outputs is None
        outs = self.outputs if returns_view else list(outputs)
        if isinstance(listener, (list, tuple)):
            event = gr.on(list(listener), fn, inputs, outs, api_name=api_name, **event_kw)
        else:
            event = listener(fn, inputs, outs, api_name=api_name, **event_kw)
        if returns_view and sync is not False:
            self.sync(event, **({} if sync is True else dict(sync)))
        return event

    def sync(self, event: Any, **how: Any) -> Any:
        """Chain the page-sync step after ``event`` (an endpoint's); returns that step, or
        ``event`` itself when the tab has none."""
        return event if self.page_sync is None else self.page_sync(event, **how)
