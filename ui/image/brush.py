"""The image tab's brush and eraser: strokes on the selected object's mask, applied after SAM's
mask and kept through later clicks (``ui.common.strokes``). A method of ``ImageController``
(mixed in), as the video tab's is (``ui.video.brush``).
"""

from __future__ import annotations

from typing import Any, Optional

from ui.common.errors import UserError
from ui.common.inputs import number
from ui.common.progress import ProgressFn, no_progress
from ui.common.strokes import Stroke
from ui.image.slot import ImageSlot
from ui.image.view import View


class BrushActions:
    """Brush strokes: a method of ``ImageController`` (mixed in; it uses its ``run_change``,
    ``predict_active`` and ``view_of``)."""

    def add_stroke(self, sid: Optional[str], points: Any, radius: float, erase: bool = False,
                   progress: ProgressFn = no_progress) -> View:
        """A brush (or, with ``erase``, eraser) stroke on the selected object's mask: ``points``
        [(x, y), ...] in original-image pixels, ``radius`` in original pixels. Applied after
        SAM's mask and kept through later clicks (``ui.common.strokes``); undo removes it."""
        pts = tuple((number(x, "x"), number(y, "y")) for x, y in points)
        r = number(radius, "radius")

        def act(slot: ImageSlot) -> View:
            st = slot.state
            st.require_media()
            self.predict_active(slot, progress)  # its candidates, if they were set aside
            try:
                stroke = Stroke(pts, r, bool(erase), st.hw)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            st.add_stroke(stroke)
            return self.view_of(slot)

        return self.run_change(sid, act)


__all__ = ["BrushActions"]
