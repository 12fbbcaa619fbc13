"""The options of a run, as one picklable value (Ray actors get a copy and build everything from it)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from sam2.find import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, MAX_OBJECTS
from sam2.mask_generator_settings import MaskGeneratorSettings


# ``--everything``: the app's "Segment everything" knobs (one checked dataclass for both).
EverythingOptions = MaskGeneratorSettings


@dataclass(frozen=True)
class AnnotateOptions:
    """Everything a worker needs; ``fingerprint()`` is what must match for a run to resume."""

    out: str
    mode: str  # text | boxes | points | everything
    text: Optional[str] = None
    boxes: Optional[str] = None
    points: Optional[str] = None
    model: Optional[str] = None  # Hub id or short name; default: tiny on CPU, large on CUDA
    checkpoint: Optional[str] = None
    overrides: Tuple[str, ...] = ()  # official "++model.<field>=<value>" strings (e.g. ++model.image_size=512)
    precision: str = "auto"
    device: Optional[str] = None
    detector: str = DEFAULT_DETECTOR
    threshold: float = DEFAULT_THRESHOLD
    max_objects: int = MAX_OBJECTS
    everything: EverythingOptions = field(default_factory=EverythingOptions)
    yolo: bool = True  # YOLO-seg label files under labels/
    png: bool = False  # palette PNG masks under masks/
    batch_size: int = 1  # same-size images encoded together (set_image_batch)
    read_workers: int = 2  # background decoding threads (local engine)
    threads: Optional[int] = None  # torch threads per worker (None: torch's default)
    max_video_frames: Optional[int] = None  # frames tracked per video (None: all)

    def fingerprint(self) -> Dict[str, Any]:
        """The options that change the results (not speed knobs such as batch size or threads)."""
        keep = ("mode", "text", "boxes", "points", "model", "checkpoint", "overrides", "precision", "detector",
                "threshold", "max_objects", "everything", "yolo", "png", "max_video_frames")
        d = dataclasses.asdict(self)
        return json.loads(json.dumps({k: d[k] for k in keep}))
