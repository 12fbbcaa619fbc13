"""The end-of-run report: items done, skipped and failed (with the reason per file), objects per label, speed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List

from sam2.annotate.files import atomic_write

#: Failed and skipped files listed by name in the printed summary (all are in summary.json).
SHOWN = 20


@dataclass
class Summary:
    images_done: int = 0
    videos_done: int = 0
    skipped: List[Dict[str, str]] = field(default_factory=list)
    failed: List[Dict[str, str]] = field(default_factory=list)
    not_finished: int = 0  # items with no result (a run stopped early)
    objects: Dict[str, int] = field(default_factory=dict)  # per label; videos count tracked objects
    seconds: float = 0.0  # this run's wall time
    processed_this_run: int = 0
    notes: List[str] = field(default_factory=list)

    @property
    def items_per_second(self) -> float:
        return self.processed_this_run / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.not_finished == 0

    def to_dict(self) -> dict:
        return dict(asdict(self), items_per_second=round(self.items_per_second, 3))

    def write(self, out: str) -> None:
        atomic_write(os.path.join(out, "summary.json"), json.dumps(self.to_dict(), indent=1))

    def lines(self) -> List[str]:
        done = self.images_done + self.videos_done
        out = [f"done: {done} ({self.images_done} images, {self.videos_done} videos), "
               f"skipped: {len(self.skipped)}, failed: {len(self.failed)}"
               + (f", not finished: {self.not_finished}" if self.not_finished else "")]
        if self.objects:
            out.append("objects: " + ", ".join(f"{k} {v}" for k, v in self.objects.items()))
        if self.processed_this_run:
            out.append(f"this run: {self.processed_this_run} items in {self.seconds:.1f} s "
                       f"({self.items_per_second:.2f} items/s)")
        for what, rows in (("failed", self.failed), ("skipped", self.skipped)):
            for row in rows[:SHOWN]:
                out.append(f"  {what}: {row['item']}: {row['reason']}")
            if len(rows) > SHOWN:
                out.append(f"  ... and {len(rows) - SHOWN} more {what} (see summary.json)")
        out += [f"note: {n}" for n in self.notes]
        return out
