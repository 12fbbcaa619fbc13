"""The video tab's "Find objects" on the current frame: words in, one tracked object per box.

No Gradio here. The detector (``ui.find.finder.Finder``, shared with the image tab) gives boxes on
the frame shown; each box becomes a new video object (named after its label: "car 1",
"car 2", so the exports' categories say what it is) prompted with that box on that frame,
exactly as if it had been drawn by hand; "Track" then follows them like any other object.
A refused Find (bad words, no detector, nothing found, tracking in progress) leaves the
session as it was; if the model fails halfway, the objects already added are taken out again.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from sam2.find import DEFAULT_THRESHOLD
from ui.find.finder import Finder
from ui.find.query import check_query_length, without_paths
from ui.common.errors import ModelUnavailableError, UserError
from ui.common.progress import ProgressFn, no_progress
from ui.video.controller import VideoController
from ui.video.view import VideoView
from ui.video.state import FramePrompts
from ui.video.slot import VideoSlot


def _frame_rgb(frame: Any) -> np.ndarray:
    """A clip frame as H x W x 3 uint8 (frames of large clips are kept JPEG-encoded)."""
    return np.asarray(frame.decode() if hasattr(frame, "decode") else frame)


class VideoFind:
    """Find on one frame of the session's clip, for every video session."""

    def __init__(self, controller: VideoController, finder: Finder) -> None:
        self.controller = controller
        self.finder = finder

    def unavailable_reason(self) -> Optional[str]:
        reason = self.finder.unavailable_reason()
        return None if reason is None else without_paths(reason)

    def find(self, sid: Optional[str], frame: Any, text: Optional[str], threshold: float = DEFAULT_THRESHOLD,
             progress: ProgressFn = no_progress) -> VideoView:
        check_query_length(text)
        reason = self.unavailable_reason()
        if reason is not None:
            raise ModelUnavailableError(reason)
        c = self.controller

        def act(slot: VideoSlot) -> VideoView:
            st = slot.state
            f = st.check_frame(frame)
            c.not_while_tracking(slot)
            assert slot.clip is not None
            try:
                outcome = self.finder.find_boxes(_frame_rgb(slot.clip.frames[f]), text, threshold, progress=progress)
            except ModelUnavailableError as exc:
                raise ModelUnavailableError(without_paths(str(exc))) from None
            if not outcome.boxes:
                st.last_frame = f
                return c.view_of(slot, f, f"⚠️ {outcome.message} Nothing was added.")
            boxes = []
            for det in outcome.boxes:  # inside the frame; a box too thin to prompt with is left out
                x0, y0, x1, y1 = (float(v) for v in det.box)
                x0, x1 = (min(max(v, 0.0), st.width - 1.0) for v in (x0, x1))
                y0, y1 = (min(max(v, 0.0), st.height - 1.0) for v in (y0, y1))
                try:
                    boxes.append((det.label, st.box_from(x0, y0, x1, y1)))
                except UserError:
                    continue
            if not boxes:
                return c.view_of(slot, f, f"⚠️ {outcome.message} The boxes are too thin to use; nothing was added.")
            before_active = st.active_id
            added: List[Any] = []
            seen: Dict[str, int] = {}
            try:
                for label, box in boxes:
                    seen[label] = seen.get(label, 0) + 1
                    obj = st.new_object(f"{label} {seen[label]}")
                    obj.label = label
                    added.append(obj)
                    c.send_prompts(slot, obj, f, FramePrompts().with_box(box), progress)
            except Exception:
                for obj in added:  # take back what this Find added, then report
                    try:
                        if slot.inference is not None:
                            _, predictor = c.engine.predictor(slot.model_key)
                            c.engine.remove(predictor, slot.inference, obj.obj_id)
                    finally:
                        st.remove(obj.obj_id)
                st.active_id = before_active
                raise
            st.active_id = added[0].obj_id
            return c.view_of(slot, f, f"{outcome.message} Press Track to follow them.")

        # One Find is one step of the tab's history (Ctrl+Z takes back all it added); a Find
        # that added nothing is no step.
        return c.run_change(sid, act, changed=lambda before, st: len(before.objects) != len(st.objects))
