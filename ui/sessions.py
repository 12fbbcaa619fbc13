"""Per-browser-session state that lives outside ``gr.State``.

Why not ``gr.State``: image embeddings, candidate masks and video frames are large, and
Gradio keeps a closed tab's ``gr.State`` for about an hour. Here every session's objects
sit in a dict keyed by ``request.session_hash``, dropped as soon as the tab closes
(``demo.unload``) and, as a backstop for sessions that never say goodbye, by an idle sweep.

Each session also owns a lock: a user can fire events faster than they are processed
(two clicks, a click during "segment everything"), and those must not interleave on one
session's state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Generic, List, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Sessions idle for longer than this are freed by the sweep (seconds).
DEFAULT_MAX_IDLE_S = 30 * 60.0


@dataclass
class SessionEntry(Generic[T]):
    """One session's state plus the lock that serialises that session's events."""

    state: T
    lock: threading.RLock = field(default_factory=threading.RLock)
    last_used: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_used = time.monotonic()


class SessionStore(Generic[T]):
    """A thread-safe ``session_hash -> SessionEntry`` map with idle expiry.

    ``factory`` builds the state of a new session. ``on_drop`` (optional) is called with
    a state when it is removed, to release resources it holds (temporary files, ...).
    """

    def __init__(
        self,
        factory: Callable[[], T],
        max_idle_s: float = DEFAULT_MAX_IDLE_S,
        on_drop: Optional[Callable[[T], None]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_idle_s <= 0:
            raise ValueError(f"max_idle_s must be positive, got {max_idle_s}")
        self._factory = factory
        self._max_idle_s = float(max_idle_s)
        self._on_drop = on_drop
        self._clock = clock
        self._entries: Dict[str, SessionEntry[T]] = {}
        self._guard = threading.Lock()
        self._sweeper: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    def __contains__(self, key: str) -> bool:
        with self._guard:
            return key in self._entries

    def get(self, key: Optional[str]) -> SessionEntry[T]:
        """The entry for ``key``, created on first use. Also sweeps idle sessions."""
        if not key:
            raise RuntimeError(
                "this event carries no session id; open the app in a browser or a gradio_client"
            )
        self.sweep()
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = SessionEntry(self._factory(), last_used=self._clock())
                self._entries[key] = entry
            entry.last_used = self._clock()
            return entry

    def run(self, key: Optional[str], fn: Callable[[T], R]) -> R:
        """``fn(state)`` of session ``key`` under its lock (one action at a time per session)."""
        entry = self.get(key)
        with entry.lock:
            try:
                return fn(entry.state)
            finally:
                entry.touch()

    def drop(self, key: Optional[str]) -> bool:
        """Forget a session (tab closed). Returns whether it existed."""
        if not key:
            return False
        with self._guard:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._release(entry)
        return True

    def sweep(self) -> List[str]:
        """Drop sessions idle longer than ``max_idle_s`` and not busy; returns their keys."""
        now = self._clock()
        dropped: List[SessionEntry[T]] = []
        keys: List[str] = []
        with self._guard:
            for key, entry in list(self._entries.items()):
                if now - entry.last_used <= self._max_idle_s:
                    continue
                # A session in the middle of an event is not idle, whatever its timestamp.
                if not entry.lock.acquire(blocking=False):
                    continue
                entry.lock.release()
                del self._entries[key]
                dropped.append(entry)
                keys.append(key)
        for entry in dropped:
            self._release(entry)
        return keys

    def start_sweeper(self, interval_s: float = 60.0) -> None:
        """Sweep in a daemon thread every ``interval_s`` seconds (idempotent)."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.sweep()

        self._sweeper = threading.Thread(target=loop, name="session-sweeper", daemon=True)
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._stop.set()

    def _release(self, entry: SessionEntry[T]) -> None:
        if self._on_drop is not None:
            try:
                self._on_drop(entry.state)
            except Exception:  # noqa: BLE001 - cleanup must never break the caller
                pass
