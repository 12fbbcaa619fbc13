"""The image tab's undo / redo (Ctrl+Z / Ctrl+Shift+Z) over every change to its objects:
methods of ``ImageController`` (mixed in), as the video tab's are (``ui.video.history_actions``).

An action that changes the objects runs through ``run_change`` (``ui.common.session_controller``),
which puts what they were before on the session's history (``ui.common.history.History``) once
the action has succeeded; ``history`` steps back or forward through it.
"""

from __future__ import annotations

from typing import Any, Optional

from ui.common.history import REDONE, UNDONE
from ui.common.progress import ProgressFn, no_progress
from ui.image.slot import ImageSlot
from ui.image.view import View


class HistoryActions:
    """Record, undo and redo changes: methods of ``ImageController`` (mixed in; they use its
    ``run_on``, ``predict_active`` and ``view_of``)."""

    def change_snapshot(self, slot: ImageSlot) -> Any:
        """What the objects were before a change (``SessionController.run_change`` records it);
        nothing before a picture is loaded."""
        return slot.state.snapshot() if slot.state.has_media else None

    def stamp_change(self, slot: ImageSlot, before: Any) -> Any:
        """The record as taken (an image change has no frame to remember)."""
        return before

    def history(self, sid: Optional[str], step: int, progress: ProgressFn = no_progress) -> View:
        """Undo (``step`` -1) or redo (+1) the session's last change, whatever it was: a prompt,
        a stroke, a candidate, a new, deleted or picked object, Clear all."""

        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            slot.state.restore(slot.changes.step(step, slot.state.snapshot()))
            self.predict_active(slot, progress)  # candidates of an object that was set aside
            return self.view_of(slot, note=UNDONE if step < 0 else REDONE)

        return self.run_on(sid, act)


__all__ = ["HistoryActions"]
