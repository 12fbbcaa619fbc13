"""The video tab's preview and downloads, as the session sees them: ``render`` (the preview
MP4 of every frame), ``render_after_track`` (that preview once a run has finished) and
``export`` (the full-size MP4, masks zip, COCO and boxes JSON). Methods of ``VideoController``
(mixed in, as ``ui.video.tracking.TrackingActions`` is).

Each copies the session's masks under its lock (``clip_export(slot, snapshot=True)``) and
writes the files without it: writing takes seconds to minutes, and the session's clicks,
scrubbing and a reload's restore must not wait for it. Cancel (``VideoController.cancel``)
stops a preview or an export before its next frame. The files themselves are made by
``ui.video.export_run`` in the formats of ``ui.video.exports``.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional, Tuple

from ui.common.errors import UserError
from ui.common.progress import ProgressFn, no_progress
from ui.video.export_run import ExportCancelled, ExportPaths, make_exports, write_preview
from ui.video.exports import ClipExport, ObjectInfo
from ui.video.render import check_effect
from ui.video.slot import VideoSlot


def clip_export(slot: VideoSlot, snapshot: bool = False) -> ClipExport:
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


class ExportActions:
    """Preview and downloads: methods of ``VideoController`` (mixed in; they use its
    ``run_on`` and ``status_of``)."""

    def render(self, sid: Optional[str], effect: Optional[str] = "overlay",
               progress: ProgressFn = no_progress) -> Tuple[str, str]:
        """Write the preview MP4 (every frame, objects drawn with ``effect``); (path, status)."""

        def snapshot(slot: VideoSlot) -> Tuple[VideoSlot, str, ClipExport, Any]:
            slot.state.require_media()
            try:
                key = check_effect(effect)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            return slot, key, clip_export(slot, snapshot=True), slot.frames

        slot, key, clip, frames = self.run_on(sid, snapshot)
        path = _write_preview(slot, clip, frames, key, progress)
        return path, self.run_on(sid, lambda s: self.status_of(s, s.state.last_frame, f"Rendered the preview ({key})."))

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
            return slot, key, clip_export(slot, snapshot=True), slot.frames

        job = self.run_on(sid, snapshot)
        if job is None:
            return None
        slot, key, clip, frames = job
        path = _write_preview(slot, clip, frames, key, progress)
        return path, self.run_on(sid, lambda s: self.status_of(s, s.state.last_frame, s.last_run + " Preview ready."))

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
            clip = clip_export(slot, snapshot=True)
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


__all__ = ["ExportActions", "clip_export"]
