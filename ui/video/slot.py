"""One session's video side: its state, the clip and its frames, the upload kept for full-size
exports, the tracking state of the model, the running or latest tracking run, and its files."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ui.common.background_job import BackgroundJob
from ui.common.sessions import SessionFiles
from ui.video.media import DecodedClip, KeptFile
from ui.video.state import VideoSession

if TYPE_CHECKING:  # a run's plan is made by ui.video.tracking, which reads slots
    from ui.video.tracking import TrackRun

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
    run: Optional["TrackRun"] = None  # the latest run (kept after it ends: its frames are streamed)
    track_pending: bool = False  # the page asked to track and its run has not ended yet
    frame_urls: List[Dict[str, Any]] = field(default_factory=list)  # the canvas's frame JPEGs
    clip_version: int = 0
    last_click_s: Optional[float] = None
    last_run: str = ""
    fresh_run: bool = False  # a tracking run finished and its preview is not rendered yet
    exporting: threading.Lock = field(default_factory=threading.Lock)  # one export at a time
    rendering: threading.Lock = field(default_factory=threading.Lock)  # one preview written at a time

    def drop_source(self) -> None:
        if self.source is not None:
            self.source.delete()
            self.source = None

    def release(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.inference = None
        self.frames = None
        self.clip = None
        self.drop_source()
        self.files.cleanup()
