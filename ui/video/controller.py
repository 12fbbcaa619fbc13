"""Video-tab behaviour without Gradio: clips, objects, prompts, tracking, renders, downloads.

Every public method takes the session id and returns a ``VideoView`` (what the page shows)
or files. Each session's state sits in a ``SessionStore`` (kept across a page reload, freed
by the idle sweep, or at once when an API client closes) and every action runs under that
session's lock. Problems the user can fix
raise ``UserError``; ``ui.common.errors.guarded`` shows them as warnings.

Tracking (``ui.video.tracking``) runs in a background job that stores each frame's masks as
soon as they are computed; while a run is going, actions that would change the prompts are
refused with a message rather than queued behind it. What the page shows is made by
``ui.video.view`` (picture, legend, status, and the canvas's updates).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ui.models.names import fastest_tracking_note, model_label, tracking_fallback_note
from ui.models.switch import resolve_model, switch_model
from ui.common.errors import ModelUnavailableError, UserError
from ui.common.history import REDONE, UNDONE
from ui.common.inputs import number
from ui.common.strokes import Stroke, apply_strokes
from ui.common.session_controller import SessionController
from ui.video.engine import FrameMasks, VideoEngine
from ui.video.export_run import ExportCancelled, ExportPaths, make_exports, write_preview
from ui.video.exports import ClipExport, ObjectInfo
from ui.video.media import KeptFile, VideoLimits, decode_clip
from ui.video.render import check_effect
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
#: bytes asked of the session budget (``ui.session_limits``) when a clip is loaded.
VIDEO_SESSION_OVERHEAD = 64 * 1024 * 1024




class VideoController(SessionController[VideoSlot], TrackingActions):
    """The video tab's logic for all sessions (tracking: ``ui.video.tracking.TrackingActions``)."""

    def __init__(self, engine: VideoEngine, limits: Optional[VideoLimits] = None,
                 max_idle_s: float = 30 * 60.0) -> None:
        super().__init__(VideoSlot, max_idle_s)
        self.engine = engine
        self.limits = limits or VideoLimits.for_device(engine.device)
        self._running: Dict[int, str] = {}  # id(job) -> session id, for "others are tracking"
        self._running_lock = threading.Lock()

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
    def _not_while_tracking(slot: VideoSlot) -> None:
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
            view = self._view(slot, 0, note)
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
                return self._view(slot, slot.state.last_frame)
            # The dropdown always has a value: it is the user's choice only once they picked
            # one; until then the session tracks with the engine's default (EdgeTAM on a CPU).
            self._switch_model(slot, model_key if slot.model_chosen else None, progress)
            if slot.clip is None:
                return self._empty_view(slot)
            self._ensure_inference(slot, progress)
            return self._view(slot, slot.state.last_frame, "Ready: click on an object in the frame.")

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
                return self._view(slot, frame) if slot.clip is not None else self._empty_view(slot)
            note = f"Model set to {model_label(self.engine.resolve(slot.model_key))}."
            if slot.clip is None:
                return self._empty_view(slot, note)
            if slot.state.all_prompted_frames():
                note += " Prompts were applied again with it; track again to update the other frames."
            return self._view(slot, frame, note)

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
                self._ensure_inference(slot, progress)

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

    def _ensure_inference(self, slot: VideoSlot, progress: ProgressFn) -> Any:
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
            self._replay(slot, predictor, progress, store=True)
        return predictor

    def _replay(self, slot: VideoSlot, predictor: Any, progress: ProgressFn, store: bool) -> None:
        """Give the model every object's prompts again, frame by frame (a fresh tracking state,
        or one just reset); ``store``: keep the masks it answers."""
        st = slot.state
        for obj in st.objects:
            for f in obj.prompted_frames:
                progress(None, f"Applying the prompts of {obj.name} on frame {f}...")
                masks = self.engine.prompt(predictor, slot.inference, f, obj.obj_id, obj.prompts[f])
                if store:
                    self._store(st, f, masks)

    @staticmethod
    def _store(st: VideoSession, frame: int, masks: Optional[FrameMasks]) -> None:
        if not masks:
            return
        for oid, mask in masks.items():
            if st.find(oid) is not None:
                st.masks.put(frame, oid, mask)

    # ------------------------------------------------------------ viewing
    def show(self, sid: Optional[str], frame: Any) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            if slot.clip is None:
                return self._empty_view(slot)
            f = slot.state.check_frame(frame)
            slot.state.last_frame = f
            return self._view(slot, f)

        return self.run_on(sid, act)

    def seek(self, sid: Optional[str], frame: Any) -> Tuple[int, str, str]:
        """The player moved to ``frame`` (the browser already shows it): (frame, legend,
        status), with no frame picture made."""
        def act(slot: VideoSlot) -> Tuple[int, str, str]:
            slot.state.require_media()
            f = slot.state.check_frame(frame)
            slot.state.last_frame = f
            return f, legend_html(slot, f), self._status(slot, f)

        return self.run_on(sid, act)

    def view(self, sid: Optional[str]) -> VideoView:
        return self.run_on(sid, lambda slot: self._view(slot, slot.state.last_frame)
                         if slot.clip is not None else self._empty_view(slot))

    # ------------------------------------------------------------ prompts
    def add_point(self, sid: Optional[str], frame: Any, x: Any, y: Any, foreground: bool = True,
                  obj_id: Any = None, progress: ProgressFn = no_progress) -> VideoView:
        """A click in clip pixel coordinates for object ``obj_id`` (created if new; 0 or None:
        the selected object)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self._not_while_tracking(slot)
            px, py = st.check_inside(x, y)
            obj = st.object_for_prompt(obj_id)
            return self._set(slot, obj, f, obj.on(f).with_point(px, py, 1 if foreground else 0), progress)

        return self._run_change(sid, act)

    def add_box(self, sid: Optional[str], frame: Any, x0: Any, y0: Any, x1: Any, y1: Any,
                obj_id: Any = None, progress: ProgressFn = no_progress) -> VideoView:
        """A box (replacing any box of the object on that frame; its clicks are kept)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self._not_while_tracking(slot)
            box = st.box_from(x0, y0, x1, y1)
            obj = st.object_for_prompt(obj_id)
            return self._set(slot, obj, f, obj.on(f).with_box(box), progress)

        return self._run_change(sid, act)

    def undo(self, sid: Optional[str], frame: Any, progress: ProgressFn = no_progress) -> VideoView:
        """Remove the selected object's newest click (or box) on ``frame``."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self._not_while_tracking(slot)
            obj = st.active
            if obj is None or obj.on(f).is_empty:
                raise UserError("The selected object has no prompts on this frame to undo.")
            return self._set(slot, obj, f, obj.on(f).without_last(), progress)

        return self._run_change(sid, act)

    def clear_frame(self, sid: Optional[str], frame: Any, obj_id: Any = None,
                    progress: ProgressFn = no_progress) -> VideoView:
        """Remove an object's prompts (and its mask) on one frame."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self._not_while_tracking(slot)
            obj = st.active if obj_id in (None, 0) else st.get(st.check_id(obj_id))
            if obj is None:
                raise UserError("There is no object to clear yet.")
            return self._set(slot, obj, f, FramePrompts(), progress)

        return self._run_change(sid, act)

    def _set(self, slot: VideoSlot, obj: VideoObject, frame: int, prompts: FramePrompts,
             progress: ProgressFn, note: str = "") -> VideoView:
        """Send an object's new prompt set on a frame to the model; commit it once that worked."""
        st = slot.state
        t0 = time.perf_counter()
        predictor = self._ensure_inference(slot, progress)
        if prompts.is_empty:
            masks = self.engine.clear(predictor, slot.inference, frame, obj.obj_id)
            st.set_prompts(obj, frame, prompts)
            self._store(st, frame, masks)
            st.masks.put(frame, obj.obj_id, np.zeros((st.height, st.width), dtype=bool))
            note = f"Cleared the prompts of {obj.name} on frame {frame}."
            if obj.prompted_frames:
                note += " Track again to fill this frame from its other prompts."
        else:
            masks = self.engine.prompt(predictor, slot.inference, frame, obj.obj_id, prompts)
            st.set_prompts(obj, frame, prompts)
            self._store(st, frame, masks)
        slot.last_click_s = time.perf_counter() - t0
        st.last_frame = frame
        return self._view(slot, frame, note)

    def add_stroke(self, sid: Optional[str], frame: Any, points: Any, radius: Any, erase: bool = False,
                   obj_id: Any = None, progress: ProgressFn = no_progress) -> VideoView:
        """A brush (or, with ``erase``, eraser) stroke on object ``obj_id``'s mask on ``frame``
        (0 or None: the selected object; the brush makes one when there is none): ``points``
        [(x, y), ...] and ``radius`` in clip pixels. The object's mask there with the stroke
        applied becomes its mask prompt on that frame (``add_new_mask``), replacing its clicks
        and box there; the model's answer is shown at once, and tracking follows it."""
        pts = tuple((number(x, "x"), number(y, "y")) for x, y in points)
        r = number(radius, "radius")

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            self._not_while_tracking(slot)
            try:
                stroke = Stroke(pts, r, bool(erase), (st.height, st.width))
            except ValueError as exc:
                raise UserError(str(exc)) from None
            target = st.active if obj_id is None or obj_id == 0 else st.find(st.check_id(obj_id))
            current = st.masks.mask(f, target.obj_id) if target is not None else None
            if current is None:
                current = np.zeros((st.height, st.width), dtype=bool)
            painted = apply_strokes(current, (stroke,))
            name = target.name if target is not None else "the object"
            if erase and not current.any():
                raise UserError(f"{name} has no mask on frame {f} to erase from.")
            if not painted.any():
                raise UserError(f"That would erase all of {name} on frame {f}; use \"Clear object on this "
                                "frame\" to remove its prompts there.")
            if np.array_equal(painted, current):
                raise UserError(f"That stroke does not change {name}'s mask on frame {f}.")
            obj = st.object_for_prompt(obj_id)
            had_clicks = obj.on(f).has_clicks
            note = (f"{'Erased from' if erase else 'Painted'} {obj.name} on frame {f}: this mask is its prompt "
                    "there now" + (" (it replaces the clicks there; a new click refines it)" if had_clicks else "")
                    + ". Track to follow it.")
            return self._set(slot, obj, f, obj.on(f).with_mask(painted), progress, note)

        return self._run_change(sid, act)

    # ------------------------------------------------------------ history (Ctrl+Z / Ctrl+Shift+Z)
    def _run_change(self, sid: Optional[str], fn: Callable[[VideoSlot], Any],
                    changed: Optional[Callable[[Any, VideoSession], bool]] = None) -> Any:
        """``run_on`` for an action that changes objects or prompts: what they were before goes on
        the session's history (Ctrl+Z), with the frame the change was made on, once the action
        has succeeded; a new change drops redo. ``changed(before, after)``: for an action that
        may change nothing (a Find that found nothing), whether it did."""

        def act(slot: VideoSlot) -> Any:
            before = slot.state.snapshot() if slot.clip is not None else None
            out = fn(slot)
            if before is not None and (changed is None or changed(before, slot.state)):
                slot.changes.record(replace(before, frame=slot.state.last_frame))
            return out

        return self.run_on(sid, act)

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
            self._not_while_tracking(slot)
            now = replace(st.snapshot(), frame=slot.changes.peek(step).frame)
            if st.restore(slot.changes.step(step, now)) and slot.inference is not None:
                try:
                    predictor = self._ensure_inference(slot, progress)
                    self.engine.reset(predictor, slot.inference)
                    self._replay(slot, predictor, progress, store=False)
                except Exception:  # noqa: BLE001 - the next prompt or Track builds a fresh state and replays
                    log.exception("replaying the prompts after an undo / redo failed; the tracking state is rebuilt "
                                  "on the next action")
                    slot.inference = slot.inference_model = None
            slot.last_run = ""
            return self._view(slot, st.last_frame, UNDONE if step < 0 else REDONE)

        return self.run_on(sid, act)

    # ------------------------------------------------------------ objects
    def new_object(self, sid: Optional[str], name: Optional[str] = None) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.new_object(name)
            return self._view(slot, st.last_frame, f"Added **{obj.name}** (id {obj.obj_id}): click on it.")

        return self._run_change(sid, act)

    def select_object(self, sid: Optional[str], obj_id: Any) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.select(obj_id)
            return self._view(slot, st.last_frame, f"Selected **{obj.name}**.")

        return self.run_on(sid, act)

    def rename_object(self, sid: Optional[str], obj_id: Any, name: str) -> VideoView:
        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            obj = st.rename(st.active_id if obj_id in (None, 0) else obj_id, name)
            return self._view(slot, st.last_frame, f"Renamed object {obj.obj_id} to **{obj.name}**.")

        return self._run_change(sid, act)  # a step of its own: else undoing the change before it took the name back

    def remove_object(self, sid: Optional[str], obj_id: Any = None) -> VideoView:
        """Delete an object everywhere (0 or None: the selected one)."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            self._not_while_tracking(slot)
            target = st.active_id if obj_id in (None, 0) else obj_id
            if target is None:
                raise UserError("There is no object to delete.")
            obj = st.get(st.check_id(target))
            if slot.inference is not None:
                _, predictor = self.engine.predictor(slot.model_key)
                self.engine.remove(predictor, slot.inference, obj.obj_id)
            st.remove(obj.obj_id)
            return self._view(slot, st.last_frame, f"Deleted **{obj.name}**.")

        return self._run_change(sid, act)

    def clear_all(self, sid: Optional[str]) -> VideoView:
        """Remove every object, prompt and mask; the clip stays."""

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            st.require_media()
            self._not_while_tracking(slot)
            if slot.exporting.locked():  # its files are being written into the folder reset deletes
                raise UserError("The downloads are being made; start over once they are ready.")
            if slot.inference is not None:
                _, predictor = self.engine.predictor(slot.model_key)
                self.engine.reset(predictor, slot.inference)
            st.clear_all()
            slot.last_run = ""
            slot.files.clear("preview")  # downloads and previews of the removed objects
            slot.files.clear("export")
            return self._view(slot, st.last_frame, "Started over: all objects removed.")

        return self._run_change(sid, act)

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

    # ------------------------------------------------------------ outputs
    def _clip_export(self, slot: VideoSlot, snapshot: bool = False) -> ClipExport:
        """The clip as the app processed it; with ``snapshot``, a copy of the masks that
        later prompts and tracking do not change (for work done outside the session lock)."""
        st = slot.state
        clip = slot.clip
        assert clip is not None
        return ClipExport(
            name=clip.name, num_frames=st.num_frames, height=st.height, width=st.width, fps=clip.fps,
            objects=[ObjectInfo(o.obj_id, o.name, o.color, tuple(o.prompted_frames), o.label) for o in st.objects],
            masks=st.masks.copy() if snapshot else st.masks, source_size=clip.source_size,
            source_fps=clip.source_fps or None,
        )

    def render(self, sid: Optional[str], effect: Optional[str] = "overlay",
               progress: ProgressFn = no_progress) -> Tuple[str, str]:
        """Write the preview MP4 (every frame, objects drawn with ``effect``); (path, status)."""

        def snapshot(slot: VideoSlot) -> Tuple[VideoSlot, str, ClipExport, Any]:
            slot.state.require_media()
            try:
                key = check_effect(effect)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            return slot, key, self._clip_export(slot, snapshot=True), slot.frames

        slot, key, clip, frames = self.run_on(sid, snapshot)
        path = self._write_preview(slot, clip, frames, key, progress)
        return path, self.run_on(sid, lambda s: self._status(s, s.state.last_frame, f"Rendered the preview ({key})."))

    def render_after_track(self, sid: Optional[str], effect: Optional[str] = "overlay",
                           progress: ProgressFn = no_progress) -> Optional[Tuple[str, str]]:
        """The preview of a tracking run that just finished; None when there is none."""

        def snapshot(slot: VideoSlot) -> Optional[Tuple[VideoSlot, str, ClipExport, Any]]:
            if not slot.fresh_run or slot.clip is None or slot.tracking:
                return None
            slot.fresh_run = False
            try:
                key = check_effect(effect)
            except ValueError:
                key = "overlay"
            return slot, key, self._clip_export(slot, snapshot=True), slot.frames

        job = self.run_on(sid, snapshot)
        if job is None:
            return None
        slot, key, clip, frames = job
        path = self._write_preview(slot, clip, frames, key, progress)
        return path, self.run_on(sid, lambda s: self._status(s, s.state.last_frame, s.last_run + " Preview ready."))

    @staticmethod
    def _write_preview(slot: VideoSlot, clip: ClipExport, frames: Any, effect: str,
                       progress: ProgressFn) -> str:
        """Write the preview MP4 from a snapshot of the masks, outside the session lock: a
        render takes seconds, and the session's clicks (or a reload's restore) must not wait
        for it. Renders of one session take turns, since they replace the same file."""
        with slot.rendering:
            slot.files.clear("preview")  # the preview it replaces
            path = slot.files.path(f"{clip.stem}_{effect}_preview.mp4", "preview")
            if not slot.exporting.locked():
                slot.export_stop = threading.Event()  # a fresh one: an earlier Cancel does not stop this one
            stop = slot.export_stop
            try:
                return write_preview(path, clip, frames.frame, effect, progress, stop)
            except ExportCancelled:
                slot.files.clear("preview")
                raise

    def export(self, sid: Optional[str], effect: Optional[str] = "overlay",
               progress: ProgressFn = no_progress) -> Tuple[List[str], str]:
        """[MP4, masks zip, COCO RLE JSON, boxes JSON] and a status line.

        The files have the upload's own size and frame rate, and the MP4 its sound
        (``ui.video.export_run``). The masks are copied under the session lock and the files
        made without it, so the session stays usable (scrubbing, prompting) meanwhile.
        """

        def prepare(slot: VideoSlot):
            st = slot.state
            st.require_media()
            if not st.objects or not st.masks.frames():
                raise UserError("Nothing to download yet: click on an object (and track it) first.")
            try:
                key = check_effect(effect)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            assert slot.clip is not None
            clip = self._clip_export(slot, snapshot=True)
            if not slot.exporting.acquire(blocking=False):  # released below, once the files are made
                raise UserError("An export of this clip is already running; wait for it to finish "
                                "(or press Cancel).")
            if not slot.rendering.locked():
                slot.export_stop = threading.Event()  # a fresh one: an earlier Cancel does not stop this one
            slot.files.clear("export")  # made on demand: an earlier export is replaced
            paths = ExportPaths(*(slot.files.path(f"{clip.stem}_{suffix}", "export") for suffix in
                                  (f"{key}.mp4", "masks.zip", "coco.json", "boxes.json")))
            return (slot, key, clip, slot.clip.source, slot.frames, paths, st.tracking_stale, slot.clip_version,
                    st.prompts_version, slot.export_stop)

        slot, key, clip, span, frames, paths, stale, version, prompts_version, stop = self.run_on(sid, prepare)
        try:
            result = make_exports(clip, span, frames.frame, key, paths, progress, stop)
        except ExportCancelled:
            raise
        except Exception:
            if slot.clip_version != version:
                raise UserError("The video was replaced while its files were being made; "
                                  "export the new one.") from None
            raise
        finally:
            slot.exporting.release()
        note = (f"{len(result.paths.as_list())} files ready ({result.width}×{result.height}, "
                f"{result.fps:.4g} fps, {result.num_frames} frames, "
                f"{'with' if result.audio else 'no'} sound; made in {result.seconds:.1f} s): "
                f"{result.tracked_frames} of {result.num_frames} frames have masks, "
                f"{len(clip.objects)} object{'s' if len(clip.objects) != 1 else ''}.")
        if result.notes:
            note += " Note: " + "; ".join(result.notes) + "."
        if stale:
            note += " Some frames may be out of date: track again to include the latest prompts."
        if slot.state.prompts_version != prompts_version:  # prompts changed while the files were made
            note += (" The prompts changed while these files were being made: they show the masks from "
                     "before; prepare the downloads again for the current ones.")
        return result.paths.as_list(), note

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
                clip = self._clip_export(slot)
                out.update(clip.header())
                out["notes"] = list(slot.clip.notes)
                out["active_object"] = st.active_id
                out["tracking_stale"] = st.tracking_stale
                out["mask_bytes"] = st.masks.nbytes
                out["last_run"] = slot.last_run
            return out

        return self.run_on(sid, act)

    # ------------------------------------------------------------ rendering the page
    def _empty_view(self, slot: VideoSlot, note: str = "") -> VideoView:
        return empty_view(self.limits.describe(), note)

    def _view(self, slot: VideoSlot, frame: int, note: str = "") -> VideoView:
        return frame_view(slot, frame, model_label(self.engine.resolve(slot.model_key)), self.limits.describe(), note)

    def _status(self, slot: VideoSlot, frame: int, note: str = "") -> str:
        return status_text(slot, frame, model_label(self.engine.resolve(slot.model_key)), note)
