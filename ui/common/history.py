"""Undo / redo over every change of a tab (Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y), the same on both tabs.

A tab keeps what its objects were before each change (a snapshot: ``ui.image.state.Snapshot``,
``ui.video.state.VideoSnapshot``). Undo puts the present on the redo list and restores the
newest snapshot; redo does the reverse; a new change drops what could be redone. Snapshots
share the session's immutable pieces (packed masks, prompt tuples), so a step costs a few
references per object; at most ``HISTORY_STEPS`` are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, List, TypeVar

from ui.common.errors import UserError

#: Changes a session can undo with Ctrl+Z (each keeps references to that moment's masks).
HISTORY_STEPS = 30

#: What the status line says after a step (both tabs).
UNDONE, REDONE = "Undone.", "Redone."

S = TypeVar("S")


@dataclass
class History(Generic[S]):
    """The snapshots before each change (``past``) and the changes undone (``future``)."""

    past: List[S] = field(default_factory=list)
    future: List[S] = field(default_factory=list)
    steps: int = HISTORY_STEPS

    def record(self, before: S) -> None:
        """A change succeeded; ``before`` is how things were. What was undone cannot be redone now."""
        self.past.append(before)
        del self.past[:-self.steps]
        self.future.clear()

    def peek(self, step: int) -> S:
        """The snapshot ``step`` would restore (``UserError`` when there is none)."""
        src = self.past if step < 0 else self.future
        if not src:
            raise UserError("Nothing to undo." if step < 0 else "Nothing to redo.")
        return src[-1]

    def step(self, step: int, now: S) -> S:
        """Undo (``step`` -1) or redo (+1): ``now`` goes on the other list; returns the snapshot to
        restore. ``UserError`` when there is nothing to undo (or redo)."""
        self.peek(step)
        src, dst = (self.past, self.future) if step < 0 else (self.future, self.past)
        dst.append(now)
        return src.pop()

    def forget(self) -> None:
        """A new picture or clip, or another model: earlier snapshots do not apply any more."""
        self.past.clear()
        self.future.clear()

    def __len__(self) -> int:
        return len(self.past)
