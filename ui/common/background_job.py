"""Long work in a background thread that an event generator watches and can stop.

Why a thread: Gradio stops a generator handler (Cancel button with ``cancels=[...]``, a
closed tab) only at a ``yield``. A handler that computes for minutes between two yields
cannot be stopped, and Gradio's close of the generator even waits for that ``next()`` to
return. So the handler starts a ``BackgroundJob`` and ``watch``-es it, yielding after each
step of the work; when the generator is closed, ``watch`` sets ``stop`` and the work, which
checks ``stop`` between its steps, ends within one step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

#: How often a watching generator yields (seconds): also how soon a Cancel is noticed.
POLL_S = 0.25


@dataclass
class BackgroundJob:
    """One run of ``work(job)`` in a daemon thread; ``work`` updates ``done``/``total``
    and checks ``stop``; its return value lands in ``result``, an exception in ``error``."""

    work: Callable[["BackgroundJob"], Any]
    name: str = "background-job"
    done: int = 0
    total: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Optional[BaseException] = None
    thread: Optional[threading.Thread] = None

    def start(self) -> "BackgroundJob":
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.work(self)
        except BaseException as exc:  # noqa: BLE001 - handed to the watching generator
            self.error = exc
        finally:
            self.finished.set()

    def cancel(self, wait_s: float = 0.0) -> bool:
        """Ask the work to stop; wait up to ``wait_s`` for it. Returns whether it has ended."""
        self.stop.set()
        return self.finished.wait(wait_s) if wait_s > 0 else self.finished.is_set()

    def watch(self, on_tick: Optional[Callable[["BackgroundJob"], None]] = None,
              poll_s: float = POLL_S) -> Iterator[None]:
        """Call ``on_tick`` every ``poll_s`` (e.g. to report progress) and yield each time
        ``done`` has grown, until the work ends; then re-raise its error. Closing this
        generator early stops the work. (Yielding only on progress keeps the page's
        elapsed-time counter meaningful; a close waits for the next step at most.)"""
        shown = self.done
        try:
            while not self.finished.wait(poll_s):
                if on_tick is not None:
                    on_tick(self)
                if self.done != shown:
                    shown = self.done
                    yield None
            if self.error is not None:
                raise self.error
        finally:
            self.stop.set()  # no-op when finished; else the work stops at its next check
