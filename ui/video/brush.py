"""The video tab's brush and eraser: a stroke on an object's mask on one frame makes that mask
its prompt there. A method of ``VideoController`` (mixed in, as
``ui.video.tracking.TrackingActions`` is); the stroke's raster is ``ui.common.strokes``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ui.common.errors import UserError
from ui.common.inputs import number
from ui.common.progress import ProgressFn, no_progress
from ui.common.strokes import Stroke, apply_strokes
from ui.video.slot import VideoSlot
from ui.video.view import VideoView


class BrushActions:
    """Brush strokes: a method of ``VideoController`` (mixed in; it uses its ``run_change``,
    ``not_while_tracking`` and ``send_prompts``)."""

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
            self.not_while_tracking(slot)
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
            return self.send_prompts(slot, obj, f, obj.on(f).with_mask(painted), progress, note)

        return self.run_change(sid, act)


__all__ = ["BrushActions"]
