"""Progress reporting, one vocabulary for every long action in ``ui``.

Controllers and engines take a ``ProgressFn`` (a fraction in [0, 1] or None for "working",
and a short description) so that they stay free of Gradio; the tabs adapt ``gr.Progress`` to
it with ``progress_adapter``. Progress is cosmetic: a failing reporter never fails the action.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

ProgressFn = Callable[[Optional[float], str], None]


def no_progress(_fraction: Optional[float], _desc: str) -> None:
    """The ``ProgressFn`` for callers that do not show progress (API calls, tests)."""
    return None


def progress_adapter(progress: Any) -> ProgressFn:
    """Adapt ``gr.Progress`` to a ``ProgressFn``."""

    def report(fraction: Optional[float], desc: str) -> None:
        try:
            progress(fraction, desc=desc)
        except Exception:  # noqa: BLE001 - progress is cosmetic; never fail the event for it
            pass

    return report
