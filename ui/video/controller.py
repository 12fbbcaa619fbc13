"""Video-tab behaviour without Gradio: clips, the model, prompts, objects and the page's view.

Every public method takes the session id and returns a ``VideoView`` (what the page shows)
or files. Each session's state sits in a ``SessionStore`` (kept across a page reload, freed
by the idle sweep, or at once when an API client closes) and every action runs under that
session's lock. Problems the user can fix
raise ``UserError``; ``ui.common.errors.guarded`` shows them as warnings.

The controller's other jobs live in modules of their own whose classes it inherits:
tracking (``ui.video.tracking``), the preview and downloads (``ui.video.export_actions``),
undo / redo (``ui.video.history_actions``) and the brush (``ui.video.brush``); they use the
helpers here that are public for that (``view_of``, ``send_prompts``, ``ensure_inference``...).

Tracking runs in a background job that stores each frame's masks as soon as they are
computed; while a run is going, actions that would change the prompts are refused with a
message rather than queued behind it. What the page shows is made by ``ui.video.view``
(picture, legend, status, and the canvas's updates).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ui.models.names import fastest_tracking_note, model_label, tracking_fallback_note
from ui.models.switch import resolve_model, switch_model
from ui.common.errors import ModelUnavailableError, UserError
from ui.common.session_controller import SessionController
from ui.video.brush import BrushActions
from ui.video.engine import FrameMasks, VideoEngine
from ui.video.export_actions import ExportActions, clip_export
from ui.video.history_actions import HistoryActions
from ui.video.media import KeptFile, VideoLimits, decode_clip
from ui.video.tracking import TrackingActions
from ui.canvas.scene import CanvasUpdate
from ui.video.view import (TRACKING_BUSY, VideoView, canvas_update, empty_view, frame_display_scale, frame_view,
                           legend_html, status_text, window_update, write_frame_files)
from ui.common.progress import ProgressFn, no_progress
from ui.video.slot import VideoSlot
from ui.video.state import FramePrompts, VideoObject, VideoSession
from sam2.media.video import VideoFrames

log = logging.getLogger("sam2.app")


#: What a video session holds besides its frames (the tracker's memory, masks, frame JPEGs):
#: bytes asked of the session budget (``ui.common.session_limits``) when a clip is loaded.
VIDEO_SESSION_OVERHEAD = 64 * 1024 * 1024




class VideoController(SessionController[VideoSlot], TrackingActions, ExportActions, HistoryActions, BrushActions):
    """The video tab's logic for all sessions (tracking, the preview and downloads, undo / redo
    and the brush are in the modules of the classes it inherits)."""

    def __init__(self, engine: VideoEngine, limits: Optional[VideoLimits] = None,
                 max_idle_s: float = 30 * 60.0) -> None:
        super().__init__(VideoSlot, max_idle_s)
        self.engine = engine
        self.limits = limits or VideoLimits.for_device(engine.device)
        self.tracking_sessions: Dict[int, str] = {}  # id(job) -> session id, for "others are tracking"
        self.tracking_sessions_lock = threading.Lock()

    def model_note(self) -> str:
        """One line for the page when tracking uses a faster model than the app's default, or
        when EdgeTAM should have been that model and cannot be had (the fallback is said,
        with its expected time per frame, never silent)."""
        model_id = self.engine.default_model
        if model_id != self.engine.registry.default_model:
            return fastest_tracking_note(model_id, self.engine.device)
        why = self.engine.tracking_fallback_reason()
        if why is None:
            return ""
        return tracking_fallback_note(model_id, self.engine.fast, why)

    @staticmethod
    def not_while_tracking(slot: VideoSlot) -> None:
        """Refuse an action that would change the prompts while a run tracks them (the run
        reads them without the session lock)."""
        if slot.tracking:
            raise UserError(f"{TRACKING_BUSY} (or wait for it to finish).")

    # ------------------------------------------------------------ loading
    def load(self, sid: Optional[str], path: Optional[str], name: Optional[str] = None) -> VideoView:
        """Decode an uploaded video within the limits and start a new clip (objects cleared)."""
        if not path:
            raise UserError("No video was given.")
        # room for the RAM a clip may take (its frames past that go to disk), before decoding
        self.sessions.reserve(sid, self.limits.max_clip_bytes() + VIDEO_SESSION_OVERHEAD)
        clip = decode_clip(str(path), self.limits, name=name)  # outside the lock: may take seconds

        try:
            frames = VideoFrames(stream=clip.frames.view(), source=clip.name, fps=clip.fps)
        except BaseException:
            clip.frames.close()
            raise
        try:  # exports read the upload again, whatever happens to Gradio's copy meanwhile
            kept: Optional[KeptFile] = KeptFile(str(path))
        except OSError:
            kept = None  # the exports then use the processed frames
        if clip.source is not None:
            clip.source = clip.source.with_path(kept.path) if kept is not None else None

        def act(slot: VideoSlot) -> VideoView:
            if slot.job is not None:
                slot.job.cancel()  # it also sees the new clip_version and stops
            slot.tracking = False
            slot.clip_version += 1
            slot.drop_clip()
            slot.clip, slot.frames = clip, frames
            slot.drop_source()
            slot.source = kept
            slot.display_scale = frame_display_scale(clip.height, clip.width)
            slot.state.load(clip.num_frames, clip.height, clip.width)
            slot.changes.forget()  # a new clip: nothing to undo into
            slot.files.cleanup()
            slot.frame_urls = write_frame_files(frames, slot.files)
            slot.run, slot.track_pending = None, False
            slot.last_run = slot.storage_note = ""
            note = (f"Loaded **{clip.name}**: {clip.num_frames} frame{'s' if clip.num_frames != 1 else ''} of "
                    f"{clip.width}×{clip.height} "
                    f"at {clip.fps:.4g} fps.")
            if clip.notes:
                note += " Limits applied: " + "; ".join(clip.notes) + "."
            note += " Click on an object to start."
            try:
                self.engine.require_available(slot.model_key)
            except ModelUnavailableError as exc:  # say so now, not after the first click
                note = f"⚠️ The clip is here, but {exc}"
            view = self.view_of(slot, 0, note)
            if clip.notes:
                view.warning = f"{clip.name}: " + "; ".join(clip.notes) + f" (limits: {self.limits.describe()})."
            return view

        try:
            return self.run_on(sid, act)
        except BaseException:
            if kept is not None:
                kept.delete()
            clip.frames.close()
            raise

    def prepare(self, sid: Optional[str], model_key: Optional[str], progress: ProgressFn = no_progress) -> VideoView:
        """Load the model and encode the first frame now, so that the first click is fast."""

        def act(slot: VideoSlot) -> VideoView:
            if slot.tracking:
                return self.view_of(slot, slot.state.last_frame)
            # The dropdown always has a value: it is the user's choice only once they picked
            # one; until then the session tracks with the engine's default (EdgeTAM on a CPU).
            self._switch_model(slot, model_key if slot.model_chosen else None, progress)
            if slot.clip is None:
                return self.empty_view_of(slot)
            self.ensure_inference(slot, progress)
            return self.view_of(slot, slot.state.last_frame, "Ready: click on an object in the frame.")

        return self.run_on(sid, act)

    def set_model(self, sid: Optional[str], model_key: Optional[str], progress: ProgressFn = no_progress) -> VideoView:
        """Switch model; prompts are replayed on the new one (track again for the other frames).

        A model that cannot be had leaves the session as it was (model, prompts, tracked
        masks) and raises ``ModelUnavailableError`` saying which model stays.
        """

        def act(slot: VideoSlot) -> VideoView:
            if slot.tracking:
                raise UserError("The video tab keeps its model while tracking runs; pick the model "
                                  "again once tracking has finished (or press Cancel).")
            changed = self._switch_model(slot, model_key, progress)
            slot.model_chosen = True
            frame = slot.state.last_frame
            if not changed:
                return self.view_of(slot, frame) if slot.clip is not None else self.empty_view_of(slot)
            note = f"Model set to {model_label(self.engine.resolve(slot.model_key))}."
            if slot.clip is None:
                return self.empty_view_of(slot, note)
            if slot.state.all_prompted_frames():
                note += " Prompts were applied again with it; track again to update the other frames."
            return self.view_of(slot, frame, note)

        return self.run_on(sid, act)

    def _switch_model(self, slot: VideoSlot, model_key: Optional[str], progress: ProgressFn) -> bool:
        """Make ``model_key`` the session's model, prompts replayed on it (``ui.models.switch``);
        returns whether it changed. Nothing is committed until the new model has loaded and
        taken the prompts: on failure the session keeps its model, tracking state and masks.
        """

        def save() -> Any:
            return slot.model_key, slot.inference, slot.inference_model, slot.state.prompts_version

        def apply(new_id: str) -> None:
            if slot.clip is not None:
                self.engine.predictor(new_id, progress)
            self._apply_model(slot, new_id)
            if slot.clip is not None and slot.state.all_prompted_frames():
                self.ensure_inference(slot, progress)

        def restore(saved: Any) -> None:
            slot.model_key, slot.inference, slot.inference_model, slot.state.prompts_version = saved

        changed = switch_model(self.engine.resolve, self.engine.require_available, slot.model_key, model_key,
                               save=save, apply=apply, restore=restore)
        if not changed:
            slot.model_key = resolve_model(self.engine.resolve, model_key)
        return changed

    def _apply_model(self, slot: VideoSlot, model_key: Optional[str]) -> bool:
        new_id = resolve_model(self.engine.resolve, model_key)
        changed = self.engine.resolve(slot.model_key) != new_id
        slot.model_key = new_id
        if changed and slot.inference is not None:
            slot.drop_inference()
            slot.state.prompts_version += 1  # tracked frames came from the other model
        if changed:
            slot.changes.forget()  # its snapshots hold the other model's masks (as on the image tab)
        return changed

    def ensure_inference(self, slot: VideoSlot, progress: ProgressFn) -> Any:
        """The predictor, with a tracking state for the clip (rebuilt with the prompts
        replayed when the model changed)."""
        if slot.clip is None or slot.frames is None:
            raise UserError("Load a video first (upload one or pick an example).")
        model_id, predictor = self.engine.predictor(slot.model_key, progress)
        if slot.inference is None or slot.inference_model != model_id:

            frames = slot.frames
            if frames.image_size != predictor.image_size:
                frames = VideoFrames(stream=slot.clip.frames.view(), image_size=predictor.image_size,
                                     source=slot.clip.name, fps=slot.clip.fps)
            progress(None, "Preparing the video for tracking (encoding the first frame)...")
            slot.drop_inference()
            slot.inference, slot.storage_note = self.engine.init_state(predictor, frames)
            slot.inference_model = model_id
            self.replay_prompts(slot, predictor, progress, store=True)
        return predictor

    def replay_prompts(self, slot: VideoSlot, predictor: Any, progress: ProgressFn, store: bool) -> None:
        """Give the model every object's prompts again, frame by frame (a fresh tracking state,
        or one just reset); ``store``: keep the masks it answers."""
        st = slot.state
        for obj in st.objects:
            for f in obj.prompted_frames:
                progress(None, f"Applying the prompts of {obj.name} on frame {f}...")
                masks = self.engine.prompt(predictor, slot.inference, f, obj.obj_id, obj.prompts[f])
                if store:
                    self.store_masks(st, f, masks)

    @staticmethod
    def store_masks(st: VideoSession, frame: int, masks: Optional[FrameMasks]) -> None:
        """Keep the model's masks of ``frame`` (a prompt's answer, a tracked frame), except
        those of objects deleted meanwhile."""
        if not masks:
            return
        for oid, mask in masks.items():
            if st.find(oid) is not None:
                st.masks.put(frame, oid, mask)

    # ------------------------------------------------------------ viewing
    def show(self, sid: Optional[str], frame: Any) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            if slot.clip is None:
                return self.empty_view_of(slot)
            f = slot.state.check_frame(frame)
            slot.state.last_frame = f
            return self.view_of(slot, f)

        return self.run_on(sid, act)

    def seek(self, sid: Optional[str], frame: Any) -> Tuple[int, str, str]:
        """The player moved to ``frame`` (the browser already shows it): (frame, legend,
        status), with no frame picture made."""
        def act(slot: VideoSlot) -> Tuple[int, str, str]:
            slot.state.require_media()
            f = slot.state.check_frame(frame)
            slot.state.last_frame = f
            return f, legend_html(slot, f), self.status_of(slot, f)

        return self.run_on(sid, act)

    def view(self, sid: Optional[str]) -> VideoView:
        return self.run_on(sid, lambda slot: self.view_of(slot, slot.state.last_frame)
                         if slot.clip is not None else self.empty_view_of(slot))

    # ------------------------------------------------------------ prompts
    def add_point(self, sid: Optional[str], frame: Any, x: Any, y: Any, foreground: bool = True,
                  obj_id: Any = None, progress: ProgressFn = no_progress) -> VideoView:
        """A click in clip pixel coordinates for object ``obj_id`` (created if new; 0 or None:
        the selected object)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self.not_while_tracking(slot)
            px, py = st.check_inside(x, y)
            obj = st.object_for_prompt(obj_id)
            return self.send_prompts(slot, obj, f, obj.on(f).with_point(px, py, 1 if foreground else 0), progress)

        return self.run_change(sid, act)

    def add_box(self, sid: Optional[str], frame: Any, x0: Any, y0: Any, x1: Any, y1: Any,
                obj_id: Any = None, progress: ProgressFn = no_progress) -> VideoView:
        """A box (replacing any box of the object on that frame; its clicks are kept)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self.not_while_tracking(slot)
            box = st.box_from(x0, y0, x1, y1)
            obj = st.object_for_prompt(obj_id)
            return self.send_prompts(slot, obj, f, obj.on(f).with_box(box), progress)

        return self.run_change(sid, act)

    def undo(self, sid: Optional[str], frame: Any, progress: ProgressFn = no_progress) -> VideoView:
        """Remove the selected object's newest click (or box) on ``frame``."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self.not_while_tracking(slot)
            obj = st.active
            if obj is None or obj.on(f).is_empty:
                raise UserError("The selected object has no prompts on this frame to undo.")
            return self.send_prompts(slot, obj, f, obj.on(f).without_last(), progress)

        return self.run_change(sid, act)

    def clear_frame(self, sid: Optional[str], frame: Any, obj_id: Any = None,
                    progress: ProgressFn = no_progress) -> VideoView:
        """Remove an object's prompts (and its mask) on one frame."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self.not_while_tracking(slot)
            obj = st.active if obj_id in (None, 0) else st.get(st.check_id(obj_id))
            if obj is None:
                raise UserError("There is no object to clear yet.")
            return self.send_prompts(slot, obj, f, FramePrompts(), progress)

        return self.run_change(sid, act)

    def send_prompts(self, slot: VideoSlot, obj: VideoObject, frame: int, prompts: FramePrompts,
                     progress: ProgressFn, note: str = "") -> VideoView:
        """Send an object's new prompt set on a frame to the model; commit it once that worked."""
        st = slot.state
        t0 = time.perf_counter()
        predictor = self.ensure_inference(slot, progress)
        if prompts.is_empty:
            masks = self.engine.clear(predictor, slot.inference, frame, obj.obj_id)
            st.set_prompts(obj, frame, prompts)
            self.store_masks(st, frame, masks)
            st.masks.put(frame, obj.obj_id, np.zeros((st.height, st.width), dtype=bool))
            note = f"Cleared the prompts of {obj.name} on frame {frame}."
            if obj.prompted_frames:
                note += " Track again to fill this frame from its other prompts."
        else:
            masks = self.engine.prompt(predictor, slot.inference, frame, obj.obj_id, prompts)
            st.set_prompts(obj, frame, prompts)
            self.store_masks(st, frame, masks)
        slot.last_click_s = time.perf_counter() - t0
        st.last_frame = frame
        return self.view_of(slot, frame, note)

    # ------------------------------------------------------------ objects
    def new_object(self, sid: Optional[str], name: Optional[str] = None) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.new_object(name)
            return self.view_of(slot, st.last_frame, f"Added **{obj.name}** (id {obj.obj_id}): click on it.")

        return self.run_change(sid, act)

    def select_object(self, sid: Optional[str], obj_id: Any) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.select(obj_id)
            return self.view_of(slot, st.last_frame, f"Selected **{obj.name}**.")

        return self.run_on(sid, act)

    def rename_object(self, sid: Optional[str], obj_id: Any, name: str) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.rename(st.active_id if obj_id in (None, 0) else obj_id, name)
            return self.view_of(slot, st.last_frame, f"Renamed object {obj.obj_id} to **{obj.name}**.")

        return self.run_change(sid, act)  # a step of its own: else undoing the change before it took the name back

    def remove_object(self, sid: Optional[str], obj_id: Any = None) -> VideoView:
        """Delete an object everywhere (0 or None: the selected one)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            self.not_while_tracking(slot)
            target = st.active_id if obj_id in (None, 0) else obj_id
            if target is None:
                raise UserError("There is no object to delete.")
            obj = st.get(st.check_id(target))
            if slot.inference is not None:
                _, predictor = self.engine.predictor(slot.model_key)
                self.engine.remove(predictor, slot.inference, obj.obj_id)
            st.remove(obj.obj_id)
            return self.view_of(slot, st.last_frame, f"Deleted **{obj.name}**.")

        return self.run_change(sid, act)

    def clear_all(self, sid: Optional[str]) -> VideoView:
        """Remove every object, prompt and mask; the clip stays."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            self.not_while_tracking(slot)
            if slot.exporting.locked():  # its files are being written into the folder reset deletes
                raise UserError("The downloads are being made; start over once they are ready.")
            if slot.inference is not None:
                _, predictor = self.engine.predictor(slot.model_key)
                self.engine.reset(predictor, slot.inference)
            st.clear_all()
            slot.last_run = ""
            slot.files.clear("preview")  # downloads and previews of the removed objects
            slot.files.clear("export")
            return self.view_of(slot, st.last_frame, "Started over: all objects removed.")

        return self.run_change(sid, act)

    # ------------------------------------------------------------ the canvas
    def window(self, sid: Optional[str], start: int, end: int, clip_key: Optional[int] = None) -> CanvasUpdate:
        """Frames [start, end) of the clip for the page's window (``ui.video.view.window_update``)."""
        return self.run_on(sid, lambda slot: window_update(slot, start, end, clip_key))

    def canvas(self, sid: Optional[str], frames: Any = None, clip: bool = False, **kw: Any) -> CanvasUpdate:
        """The canvas update after an action (``ui.video.view.canvas_update``)."""
        return self.run_on(sid, lambda slot: canvas_update(slot, frames, clip, **kw))

    def frame_shown(self, sid: Optional[str]) -> int:
        """The frame the session's last action was on."""
        return self.run_on(sid, lambda slot: slot.state.last_frame)

    def clip_size(self, sid: Optional[str]) -> Optional[Tuple[int, int]]:
        """(width, height) of the session's clip, None without one (for clamping gestures)."""
        if sid not in self.sessions:
            return None
        return self.run_on(sid, lambda slot: (slot.state.width, slot.state.height) if slot.clip is not None else None)

    # ------------------------------------------------------------ info
    def info(self, sid: Optional[str]) -> Dict[str, Any]:
        """A summary of the session (clip, limits, objects, tracked frames) as plain data."""

        def act(slot: VideoSlot) -> Dict[str, Any]:
            st = slot.state
            out: Dict[str, Any] = {"loaded": slot.clip is not None, "tracking": slot.tracking,
                                   "model": self.engine.resolve(slot.model_key),
                                   "limits": {k: getattr(self.limits, k) for k in
                                              ("max_seconds", "max_frames", "max_fps", "max_short_side",
                                               "max_long_side")}}
            if slot.clip is not None:
                clip = clip_export(slot)
                out.update(clip.header())
                out["notes"] = list(slot.clip.notes)
                out["active_object"] = st.active_id
                out["tracking_stale"] = st.tracking_stale
                out["mask_bytes"] = st.masks.nbytes
                out["last_run"] = slot.last_run
            return out

        return self.run_on(sid, act)

    # ------------------------------------------------------------ rendering the page
    # (public: the actions in the modules mixed in answer with them too)
    def empty_view_of(self, slot: VideoSlot, note: str = "") -> VideoView:
        """The page without a clip (the limits said)."""
        return empty_view(self.limits.describe(), note)

    def view_of(self, slot: VideoSlot, frame: int, note: str = "") -> VideoView:
        """What the page shows of the session on ``frame``, with ``note`` on the status line."""
        return frame_view(slot, frame, model_label(self.engine.resolve(slot.model_key)), self.limits.describe(), note)

    def status_of(self, slot: VideoSlot, frame: int, note: str = "") -> str:
        """The status line alone (no picture made)."""
        return status_text(slot, frame, model_label(self.engine.resolve(slot.model_key)), note)
