"""One session's image side: its state (the user's picture, objects and prompts) and what
belongs to it besides: the model it uses (on the slot, as on the video side: the slot holds
the model's work), files, timings, the running "segment everything", what the page's canvas
already has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from ui.common.background_job import BackgroundJob
from ui.common.history import History
from ui.common.sessions import SessionFiles
from ui.image.state import ImageSession

@dataclass
class ImageSlot:
    """The image side of one session (``SessionController`` runs actions on it under its lock)."""

    state: ImageSession = field(default_factory=ImageSession)
    model_key: Optional[str] = None  # the model the session uses (None: the app's default)
    files: SessionFiles = field(default_factory=SessionFiles)
    last_encode_s: Optional[float] = None
    last_decode_s: Optional[float] = None
    refused: Optional[Tuple[str, float, str]] = None  # (model id, when, why): the last switch refused
    everything_job: Optional[BackgroundJob] = None  # a running "segment everything"
    shown: Any = None  # what the page's canvas already has (``ui.image.view.CanvasShown``)
    changes: History = field(default_factory=History)  # snapshots for Ctrl+Z / Ctrl+Shift+Z (ui.common.history)

    def busy(self) -> bool:
        """Background work is going ("segment everything"): not a session to drop for room."""
        return self.everything_job is not None and not self.everything_job.finished.is_set()

    def release(self) -> None:
        """The session ends (tab closed, idle): stop its work and delete its files."""
        if self.everything_job is not None:
            self.everything_job.cancel()
        self.files.cleanup()
