"""The shape both sides' controllers share: one slot of state per session, and every action
run on its session's slot under that session's lock.

A user can fire events faster than they are answered (two quick clicks, a click during
"segment everything"); running each action as ``act(slot)`` under the session's lock keeps
them from interleaving on one session's state, and is written once here for both sides.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, Protocol, TypeVar

from ui.common.sessions import SessionStore


class Slot(Protocol):
    """What a session's slot tells its store: whether work is going (then it is not dropped to
    make room) and what to stop and delete when its session ends (tab closed, idle, client gone)."""

    def busy(self) -> bool: ...

    def release(self) -> None: ...


SlotT = TypeVar("SlotT", bound=Slot)
R = TypeVar("R")


class SessionController(Generic[SlotT]):
    """Base of ``ImageController`` and ``VideoController``: their sessions and how actions run on them."""

    def __init__(self, make_slot: Callable[[], SlotT], max_idle_s: float) -> None:
        self.sessions: SessionStore[SlotT] = SessionStore(make_slot, max_idle_s=max_idle_s,
                                                          on_drop=lambda slot: slot.release(),
                                                          busy_of=lambda slot: slot.busy())

    def run_on(self, sid: Optional[str], act: Callable[[SlotT], R]) -> R:
        """``act(slot)`` on session ``sid``'s slot (made if new) under the session's lock."""
        return self.sessions.run(sid, act)

    def drop(self, sid: Optional[str]) -> None:
        """Forget a session now (its API client closed): its slot is released."""
        self.sessions.drop(sid)

    # ------------------------------------------------------------ undo / redo records
    def run_change(self, sid: Optional[str], fn: Callable[[SlotT], R],
                   changed: Optional[Callable[[Any, Any], bool]] = None) -> R:
        """``run_on`` for an action that changes the session's objects or prompts: what the
        session was before (``change_snapshot``) goes on its history (``slot.changes``, Ctrl+Z)
        once the action has succeeded; a new change drops redo. ``changed(before, state)``: for
        an action that may change nothing (a Find that found nothing), whether it did; nothing
        is recorded when it did not. Each side says what a record is: ``change_snapshot(slot)``
        (None: nothing to record yet) and ``stamp_change(slot, before)`` (its history actions)."""

        def act(slot: Any) -> R:
            before = self.change_snapshot(slot)  # type: ignore[attr-defined]
            out = fn(slot)
            if before is not None and (changed is None or changed(before, slot.state)):
                slot.changes.record(self.stamp_change(slot, before))  # type: ignore[attr-defined]
            return out

        return self.run_on(sid, act)
