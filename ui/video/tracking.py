"""Tracking on the video tab: a run's plan, its worker, and what the page sees of it.

A run is a ``ui.common.background_job.BackgroundJob`` (the one worker-thread job class of ``ui/``)
that stores each frame's masks under the session lock as soon as they are computed, so a
cancelled or interrupted run keeps what it has done and the session stays responsive
(scrubbing, rendering) while the model works. The event generator only watches it, so
Gradio can close (cancel) it at once instead of waiting for a frame that takes seconds on
a CPU. ``TrackingActions`` are the ``VideoController``'s tracking methods (it inherits them):
they use its sessions, engine and views.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterator, Optional, Tuple

from ui.common.background_job import BackgroundJob
from ui.video.run_plan import DIRECTIONS, TrackRun, plan_run
from ui.canvas.scene import CanvasUpdate, next_revision
from ui.common.progress import ProgressFn, TimeLeft, no_progress
from ui.common.errors import UserError
from ui.video.view import TRACKING_BUSY, VideoView, mask_urls, packed_masks
from ui.video.engine import spill_note
from ui.video.slot import VideoSlot
from ui.common.words import counted

#: During tracking, a preview of the newest frame is made at most this often (seconds).
PREVIEW_INTERVAL_S = 0.5


class TrackingActions:
    """Track, stream to the canvas, cancel: methods of ``VideoController`` (mixed in)."""

    sessions: Any
    engine: Any
    tracking_sessions: Dict[int, str]  # id(job) -> session id, for "others are tracking"
    tracking_sessions_lock: threading.Lock

    def tracking_elsewhere(self, sid: Optional[str]) -> int:
        """How many other sessions are tracking right now."""
        with self.tracking_sessions_lock:
            return sum(1 for other in self.tracking_sessions.values() if other != sid)

    def track_requested(self, sid: Optional[str]) -> None:
        """The page pressed Track: ``track_updates`` streams until that run has ended."""
        def act(slot: VideoSlot) -> None:
            slot.track_pending = slot.clip is not None
            if not slot.tracking:
                slot.run = None  # the frames of an earlier run were sent already

        self.run_on(sid, act)

    def track_updates(self, sid: Optional[str], poll_s: float = 0.3,
                      max_s: float = 3600.0) -> Iterator[CanvasUpdate]:
        """Canvas updates while a run requested by the page goes on: the busy message, then
        the masks of each newly tracked frame (so the player plays them as they come), then
        the end. The masks are taken under the session lock and encoded without it."""
        sent: set = set()
        busy = False
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            if sid not in self.sessions:
                return
            with self.sessions.get(sid).lock:
                slot = self.sessions.get(sid).state
                running, pending, run = slot.tracking, slot.track_pending, slot.run
                st = slot.state
                new = sorted(run.frames - sent) if run is not None else []
                packed = packed_masks(st, new)
                colors = {o.obj_id: o.color for o in st.objects}
                note = slot.last_run
                rev = next_revision()  # dates what was read, under the lock (see CanvasUpdate.rev)
            sent.update(new)
            update = CanvasUpdate(rev=rev)
            if running and not busy:
                busy = True
                update.busy = TRACKING_BUSY
            if packed:
                update.masks = mask_urls(packed, colors)
            if not running and not pending:
                update.busy = ""
                update.hint = note or None
                yield update
                return
            if update.busy is not None or update.masks:
                yield update
            time.sleep(poll_s)

    def cancel(self, sid: Optional[str], wait_s: float = 120.0) -> VideoView:
        """Stop a running tracking job after the frame in progress (its results are kept),
        and a running export or preview before its next frame (its files are removed)."""
        entry = self.sessions.get(sid)
        job = entry.state.job
        if job is not None:
            job.cancel(wait_s)
        writing = entry.state.exporting.locked() or entry.state.rendering.locked()
        if writing:  # Cancel also stops an export (or preview) of this session, after its frame
            entry.state.stop_writing()

        def act(slot: VideoSlot) -> VideoView:
            slot.track_pending = False  # a run still queued behind other tabs is withdrawn
            if slot.clip is None:
                return self.empty_view_of(slot)
            if writing:
                return self.view_of(slot, slot.state.last_frame, "Cancelled the export: no files were made.")
            note = slot.last_run if job is not None else " ".join(
                x for x in ("No tracking is running.", slot.last_run) if x)
            return self.view_of(slot, slot.state.last_frame, note)

        return self.run_on(sid, act)

    def track(self, sid: Optional[str], direction: str, start_frame: Any,
              progress: ProgressFn = no_progress) -> Iterator[Optional[VideoView]]:
        """Track every object from ``start_frame`` forward, backward or both ways.

        The work runs in a ``BackgroundJob`` that stores each frame's masks as soon as they
        are computed. This generator only reports: it yields a view of the newest tracked
        frame (None when there is no new one since the last yield) and a final summary.
        Closing it early (Gradio's Cancel, a closed tab) stops the job after the frame in
        progress, keeping what is done.
        """
        if direction not in DIRECTIONS:
            raise UserError(f"Unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
        entry = self.sessions.get(sid)
        with entry.lock:
            try:
                job, run = self._start_track(entry, sid, direction, start_frame, progress)
            except BaseException:
                entry.state.track_pending = False
                raise
            slot = entry.state
        shown = -1
        left = TimeLeft()

        def report(j: BackgroundJob) -> None:
            progress(j.done / max(j.total, 1),
                     f"Tracking {direction}: {j.done} of {j.total} frames{left.text(j.done, j.total)}")

        try:
            for _ in job.watch(report):
                if run.preview_serial != shown and run.preview is not None:
                    shown = run.preview_serial
                    yield run.preview
                else:
                    yield None
            if job.result is not None:
                yield job.result
        finally:
            with entry.lock:
                slot.track_pending = False

    def _start_track(self, entry: Any, sid: Optional[str], direction: str, start_frame: Any,
                     progress: ProgressFn) -> Tuple[BackgroundJob, TrackRun]:
        """Check the request and start its ``BackgroundJob`` (under the session lock)."""
        slot = entry.state
        st = slot.state
        start = st.check_frame(start_frame)
        if slot.tracking:
            raise UserError("Tracking is already running in this tab.")
        if not any(o.prompted_frames for o in st.objects):
            raise UserError("Nothing to track yet: click on an object in a frame first.")
        predictor = self.ensure_inference(slot, progress)
        run = plan_run(direction, start, st.num_frames, slot.clip_version, st.prompts_version)
        job = BackgroundJob(lambda j: self._track_work(entry, run, j, predictor), name="sam2-video-track")
        job.total = run.total
        slot.job, slot.run = job, run
        slot.tracking = True
        slot.fresh_run = False
        with self.tracking_sessions_lock:
            self.tracking_sessions[id(job)] = str(sid)
        job.start()
        return job, run

    def _track_work(self, entry: Any, run: TrackRun, job: BackgroundJob, predictor: Any) -> Optional[VideoView]:
        """Run the propagation passes; each frame's masks are stored under the session lock.
        Returns the final view (None when a new clip replaced this one)."""
        slot: VideoSlot = entry.state
        t0 = time.perf_counter()
        last_preview = 0.0
        stopped = False
        try:
            inference = slot.inference
            passes = list(run.passes)
            redo: Optional[int] = None  # a frame tracked again on resuming (counted once)
            while passes:
                first, reverse = passes.pop(0)
                last_done: Optional[int] = None
                frames = self.engine.propagate(predictor, inference, first, reverse)
                try:
                    while True:
                        if job.stop.is_set() or slot.clip_version != run.clip_version:
                            stopped = True
                            break
                        # The model runs without the session lock (prompt changes are refused
                        # while tracking), so views, renders and Cancel never wait for a frame.
                        try:
                            f, masks = next(frames)
                        except StopIteration:
                            break
                        except OSError as exc:
                            # the tracker's disk store failed (sam2's SpillError, said once):
                            # it keeps its data in RAM from now on; the pass goes on from
                            # the frame it was on, the frames done are kept
                            with entry.lock:
                                slot.storage_note = spill_note(exc)
                            passes.insert(0, (first if last_done is None else last_done, reverse))
                            redo = last_done
                            break
                        again, redo, last_done = f == redo, None, f
                        with entry.lock:
                            if slot.clip_version != run.clip_version:
                                stopped = True
                                break
                            self.store_masks(slot.state, f, masks)
                            entry.touch()
                            run.frames.add(f)
                            now = time.perf_counter()
                            if now - last_preview >= PREVIEW_INTERVAL_S or job.done + 1 == job.total:
                                last_preview = now
                                rate = (job.done + 1) / max(now - t0, 1e-6)
                                pace = f"{rate:.2g}" if rate < 10 else f"{rate:.0f}"
                                note = (f"Tracking {run.direction}: frame {f} ({job.done + 1} of {job.total}, "
                                        f"{pace} frames/s)...")
                                run.preview = self.view_of(slot, f, note)
                                run.preview_serial += 1
                            if not again:
                                job.done += 1
                finally:
                    frames.close()
                if stopped:
                    break
            with entry.lock:
                if slot.clip_version != run.clip_version:
                    return None  # a new video replaced this one
                st = slot.state
                if stopped:
                    slot.last_run = (f"Tracking cancelled after {counted(len(run.frames), 'frame')}; "
                                     "their masks are kept.")
                else:
                    if st.prompts_version == run.prompts_version:
                        st.tracked_version = run.prompts_version
                    slot.fresh_run = True
                    slot.last_run = (f"Tracked {counted(len(run.frames), 'frame')} {run.direction} "
                                     f"from frame {run.start} in {time.perf_counter() - t0:.1f} s.")
                slot.tracking = False
                st.last_frame = run.start
                return self.view_of(slot, run.start, slot.last_run)
        except BaseException as exc:
            with entry.lock:
                if slot.clip_version == run.clip_version:
                    slot.last_run = (f"Tracking failed after {job.done} of {job.total} frames "
                                     f"({type(exc).__name__}); the masks computed so far are kept.")
            raise
        finally:
            with entry.lock:
                if slot.clip_version == run.clip_version:
                    slot.tracking = False
                if slot.job is job:
                    slot.job = None
            with self.tracking_sessions_lock:
                self.tracking_sessions.pop(id(job), None)



__all__ = ["PREVIEW_INTERVAL_S", "TrackingActions"]
