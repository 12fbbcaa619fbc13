"""One session's video side: its state, the clip and its frames, the upload kept for full-size
exports, the tracking state of the model, the running or latest tracking run, and its files."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from ui.common.background_job import BackgroundJob
from ui.common.history import History
from ui.common.sessions import SessionFiles
from ui.video.media import DecodedClip, KeptFile
from ui.video.run_plan import TrackRun
from ui.video.state import VideoSession

log = logging.getLogger("sam2.app")

#: How long a closed session waits for its export to stop before its files are deleted.
EXPORT_STOP_WAIT_S = 60.0

@dataclass
class VideoSlot:
    """The video side of one session (``SessionController`` runs actions on it under its lock)."""

    state: VideoSession = field(default_factory=VideoSession)
    clip: Optional[DecodedClip] = None
    frames: Any = None  # sam2.media.video.VideoFrames of the clip
    source: Optional[KeptFile] = None  # the upload, kept for full-fidelity exports
    display_scale: float = 1.0  # display pixels per clip pixel
    model_key: Optional[str] = None  # the model the session uses (None: the engine's default)
    model_chosen: bool = False  # the user picked it (else the page's dropdown value is not a choice)
    inference: Any = None  # the predictor's VideoSessionState for (clip, model)
    inference_model: Optional[str] = None
    files: SessionFiles = field(default_factory=SessionFiles)
    tracking: bool = False
    job: Optional[BackgroundJob] = None  # the tracking run in progress (its plan: ``run``)
    run: Optional[TrackRun] = None  # the latest run (kept after it ends: its frames are streamed)
    track_pending: bool = False  # the page asked to track and its run has not ended yet
    frame_urls: Any = None  # ui.video.view.FrameFiles: the canvas's frame JPEGs, written when asked for
    clip_version: int = 0
    last_click_s: Optional[float] = None
    last_run: str = ""
    storage_note: str = ""  # the server's disk could not take this session's data (said on the status line)
    fresh_run: bool = False  # a tracking run finished and its preview is not rendered yet
    exporting: threading.Lock = field(default_factory=threading.Lock)  # one export at a time
    rendering: threading.Lock = field(default_factory=threading.Lock)  # one preview written at a time
    export_stop: threading.Event = field(default_factory=threading.Event)  # set: the export/preview stops
    changes: History = field(default_factory=History)  # snapshots for Ctrl+Z / Ctrl+Shift+Z (ui.common.history)

    def drop_inference(self) -> None:
        """Forget the tracking state; its spill folder goes now, or with the state when a run
        still uses it (the state deletes it when garbage collected)."""
        inference, self.inference, self.inference_model = self.inference, None, None
        if inference is not None and hasattr(inference, "close") and not self.busy():
            inference.close()

    def drop_clip(self) -> None:
        """Forget the clip and its frames (their folder on disk goes with them)."""
        self.drop_inference()
        clip, self.clip, self.frames = self.clip, None, None
        if clip is not None and hasattr(clip.frames, "close") and not self.busy():
            clip.frames.close()

    def drop_source(self) -> None:
        if self.source is not None:
            self.source.delete()
            self.source = None

    def busy(self) -> bool:
        """Tracking, an export or a preview is going: not a session to drop for room."""
        return (self.tracking or self.exporting.locked() or self.rendering.locked()
                or (self.job is not None and not self.job.finished.is_set()))

    def stop_writing(self, wait_s: float = 0.0) -> bool:
        """Ask a running export or preview to stop (before its next frame); wait up to
        ``wait_s`` for it. Returns whether none is running any more."""
        self.export_stop.set()
        ended = True
        for lock in (self.exporting, self.rendering):
            if lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False):
                lock.release()
            else:
                ended = False
        return ended

    def release(self) -> None:
        if self.job is not None:
            self.job.cancel()
        # an export writes into the session's folder: stop it before the folder goes
        if not self.stop_writing(wait_s=EXPORT_STOP_WAIT_S):
            log.warning("a closed session's export did not stop within %.0f s", EXPORT_STOP_WAIT_S)
        self.drop_clip()
        self.drop_source()
        self.files.cleanup()
