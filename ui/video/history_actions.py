"""The video tab's undo / redo (Ctrl+Z / Ctrl+Shift+Z) over every change to objects and
prompts: methods of ``VideoController`` (mixed in, as ``ui.video.tracking.TrackingActions`` is).

An action that changes objects or prompts runs through ``run_change``
(``ui.common.session_controller``), which puts what the session was before on its history (``ui.common.history.History``) once the action has
succeeded; ``history`` steps back or forward through it and gives the model the restored
prompts again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Optional

from ui.common.history import REDONE, UNDONE
from ui.common.progress import ProgressFn, no_progress
from ui.video.slot import VideoSlot
from ui.video.view import VideoView

log = logging.getLogger("sam2.app")


class HistoryActions:
    """Record, undo and redo changes: methods of ``VideoController`` (mixed in; they use its
    ``run_on``, ``engine``, ``not_while_tracking``, ``ensure_inference``, ``replay_prompts``
    and ``view_of``)."""

    engine: Any

    def change_snapshot(self, slot: VideoSlot) -> Any:
        """What objects and prompts were before a change (``SessionController.run_change``
        records it); nothing before a clip is loaded."""
        return slot.state.snapshot() if slot.clip is not None else None

    def stamp_change(self, slot: VideoSlot, before: Any) -> Any:
        """The record carries the frame the change was made on (an undo shows that frame)."""
        return replace(before, frame=slot.state.last_frame)

    def history(self, sid: Optional[str], step: int, progress: ProgressFn = no_progress) -> VideoView:
        """Undo (``step`` -1) or redo (+1) the session's last change, whatever it was: a click, a
        box, a stroke, Z, a cleared frame, a new or deleted object, Start over, a Find.

        Objects, prompts and masks come back as they were shown, on the frame of the change.
        When the prompts differ from before, the model is given the restored prompts again
        (its tracking state is reset and every prompt replayed) and the tracked frames count
        as out of date, as after any prompt change: Track again to bring the model's memory of
        the other frames back (the masks shown stay until then)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            self.not_while_tracking(slot)
            now = replace(st.snapshot(), frame=slot.changes.peek(step).frame)
            if st.restore(slot.changes.step(step, now)) and slot.inference is not None:
                try:
                    predictor = self.ensure_inference(slot, progress)
                    self.engine.reset(predictor, slot.inference)
                    self.replay_prompts(slot, predictor, progress, store=False)
                except Exception:  # noqa: BLE001 - the next prompt or Track builds a fresh state and replays
                    log.exception("replaying the prompts after an undo / redo failed; the tracking state is rebuilt "
                                  "on the next action")
                    slot.inference = slot.inference_model = None
            slot.last_run = ""
            return self.view_of(slot, st.last_frame, UNDONE if step < 0 else REDONE)

        return self.run_on(sid, act)


__all__ = ["HistoryActions"]
