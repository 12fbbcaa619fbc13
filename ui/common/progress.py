"""Progress reporting, one vocabulary for every long action in ``ui``.

Controllers and engines take a ``ProgressFn`` (a fraction in [0, 1] or None for "working",
and a short description) so that they stay free of Gradio; the tabs adapt ``gr.Progress`` to
it with ``progress_adapter``. Progress is cosmetic: a failing reporter never fails the action.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Tuple

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


class TimeLeft:
    """"About 40 s left" for a job counted in steps (frames, batches).

    The pace is measured from the first step seen done, not from the start: the first step
    carries the warm-up (a model loading, the first frame's encoding) and would make every
    estimate too long. No estimate until two steps have been seen apart, so a guess is never
    made from nothing. ``clock`` is for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: Optional[Tuple[int, float]] = None

    def seconds(self, done: int, total: int) -> Optional[float]:
        """Seconds left at the pace so far (None: not known yet)."""
        now = self._clock()
        if done <= 0 or total <= 0:
            return None
        if self._first is None or done < self._first[0]:
            self._first = (done, now)
            return None
        steps = done - self._first[0]
        if steps <= 0:
            return None
        return max(0.0, (now - self._first[1]) / steps * (total - done))

    def text(self, done: int, total: int) -> str:
        """" · about 40 s left" (with the separator), or "" while unknown or finished."""
        left = self.seconds(done, total)
        if left is None or done >= total:
            return ""
        return f" · about {format_duration(left)} left"


def format_duration(seconds: float) -> str:
    """A short, rounded duration: "5 s", "40 s", "3 min", "1 h", "1 h 10 min"."""
    s = max(0, int(round(seconds)))
    if s < 10:
        return f"{max(s, 1)} s"
    if s < 60:
        return f"{int(round(s / 5.0)) * 5} s"
    m = int(round(s / 60.0))
    if m < 60:
        return f"{m} min"
    return f"{m // 60} h" + (f" {m % 60} min" if m % 60 else "")
