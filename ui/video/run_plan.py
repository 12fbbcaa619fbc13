"""The plan of a tracking run: which passes from which frame, and what it has done so far.

Kept apart from the run's worker (``ui.video.tracking``) so that a session's slot can hold
its latest run without importing the code that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Set, Tuple

from ui.common.errors import UserError

DIRECTIONS = ("forward", "backward", "both")


@dataclass
class TrackRun:
    """The plan of a run and what it has done so far (read by the watching generator)."""

    direction: str
    start: int
    passes: List[Tuple[int, bool]]  # (first frame, reverse) of each pass
    total: int  # frames to yield (the start frame twice when going both ways)
    clip_version: int
    prompts_version: int
    frames: Set[int] = field(default_factory=set)  # distinct frames tracked
    preview: Any = None  # the newest VideoView made while tracking
    preview_serial: int = 0


def plan_run(direction: str, start: int, num_frames: int, clip_version: int, prompts_version: int) -> TrackRun:
    """The passes for ``direction`` from ``start``. Going back always starts at the start frame
    itself (the predictor tracks nothing backward from frame 0), so "both" does that frame
    twice, as the reference does."""
    if direction not in DIRECTIONS:
        raise UserError(f"Unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
    if direction == "backward" and start == 0:
        raise UserError("Frame 0 is the first frame: there is nothing before it to track. "
                          "Track forward, or move to a later frame.")
    passes = {"forward": [(start, False)], "backward": [(start, True)],
              "both": [(start, False)] + ([(start, True)] if start > 0 else [])}[direction]
    total = sum((num_frames - first) if not rev else (first + 1) for first, rev in passes)
    return TrackRun(direction, start, passes, total, clip_version, prompts_version)
