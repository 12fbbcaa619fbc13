"""The video tab's calls into ``SAM2VideoPredictor``: masks in, booleans out.

Predictors come from the app's ``ModelRegistry`` (``kind="video"``: one per model, loaded
once, shared by all sessions, built from the same checkpoint as the image model). Every
session has its own tracking state (``init_state``). Predictors are used with
``add_all_frames_to_correct_as_cond=True``: a click on an already tracked frame becomes a
conditioning frame, so a correction stays in the model's memory and is not washed out by
the next tracking run (the official demo's setting).

The functions here take and return plain numpy masks (H x W bool at the clip's size) per
object id, so the controller never touches logits.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ui.models.registry import ModelRegistry
from ui.models.names import EDGETAM_MODEL
from ui.common import run_folder
from ui.common.errors import ModelUnavailableError
from ui.video.clip_frames import disk_message
from ui.common.progress import ProgressFn, no_progress
from ui.video.state import FramePrompts

FrameMasks = Dict[int, np.ndarray]  # obj_id -> H x W bool

log = logging.getLogger("sam2.app")


def spill_note(exc: OSError) -> str:
    """What the user is told when tracking data cannot go to disk (no server path)."""
    return (f"⚠️ Tracking data cannot be written to disk ({disk_message(exc)}): this session keeps it in "
            "memory instead, which limits how long a clip it can track. Your work is kept.")


def logits_to_masks(obj_ids: List[Any], logits: Any) -> FrameMasks:
    """``objects x 1 x H x W`` logits (torch) -> ``{obj_id: H x W bool}`` (> 0 is the object)."""
    masks = (logits[:, 0] > 0.0).cpu().numpy()
    return {int(oid): masks[i] for i, oid in enumerate(obj_ids)}


class VideoEngine:
    """Loads video predictors through the registry and runs them on session states."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._default: Optional[str] = None

    @property
    def default_model(self) -> str:
        """The model a session tracks with until the user picks one (decided once:
        ``ModelRegistry.tracking_default``, EdgeTAM on a machine without a GPU if it can load)."""
        if self._default is None:
            self._default = self.registry.tracking_default()
        return self._default

    def tracking_fallback_reason(self) -> Optional[str]:
        """Why the tab does not track with EdgeTAM where it would be the default (a CPU, no
        model named at start-up) -- a short reason -- or None when nothing fell back."""
        reg = self.registry
        if reg.model_given or reg.device.startswith("cuda") or self.default_model == EDGETAM_MODEL:
            return None
        try:
            reg.require_available(EDGETAM_MODEL, remember=False)
        except ModelUnavailableError as exc:
            return "its weights are not here and cannot be downloaded" if getattr(exc, "offline", False) \
                else "it cannot be loaded here"
        return None

    @property
    def fast(self) -> bool:
        """Whether models run in fast mode here (bfloat16 heavy layers, ``sam2.precision``)."""
        import torch

        from sam2.precision import resolve_compute_dtype

        return resolve_compute_dtype(self.registry.precision, self.registry.device) != torch.float32

    @property
    def device(self) -> str:
        return self.registry.device

    def resolve(self, model_key: Optional[str]) -> str:
        return self.default_model if not model_key else self.registry.resolve(model_key)

    def require_available(self, model_key: Optional[str]) -> str:
        """The model id, or ``ModelUnavailableError`` at once when its weights cannot be had."""
        return self.registry.require_available(model_key)

    def predictor(self, model_key: Optional[str], progress: ProgressFn = no_progress) -> Tuple[str, Any]:
        """(model id, its ``SAM2VideoPredictor``), loading it on first use."""
        loaded = self.registry.get(model_key, kind="video", progress=progress)
        # Corrections must stick whoever built the predictor (ModelRegistry already builds
        # them this way); the option is a plain attribute, so setting it is idempotent.
        loaded.model.add_all_frames_to_correct_as_cond = True
        return loaded.model_id, loaded.model

    # ------------------------------------------------------------------ session calls
    @staticmethod
    def init_state(predictor: Any, frames: Any, spill_root: Optional[str] = None) -> Tuple[Any, str]:
        """A fresh tracking state for ``frames`` (a ``VideoFrames``; encodes frame 0) and a note
        for the user ("" when all is well).

        The state keeps in RAM only what tracking the next frame reads and moves older frames'
        outputs to a folder under ``spill_root`` (default: the run folder's ``spill/``, so it
        goes with the session, at exit, and at the next start-up after a crash). Where that
        folder cannot be used, the state keeps everything in RAM and the note says so."""
        try:
            root = spill_root or run_folder.current().sub("spill")
            return predictor.init_state(frames, spill_dir=root), ""
        except OSError as exc:  # sam2's SpillError is one; so is a run folder that cannot be made
            log.warning("tracking keeps its data in RAM: %s", exc)
            return predictor.init_state(frames, spill=False), spill_note(exc)

    @staticmethod
    def prompt(predictor: Any, state: Any, frame: int, obj_id: int, prompts: FramePrompts) -> FrameMasks:
        """Replace ``obj_id``'s prompts on ``frame`` by ``prompts``; every object's mask there.

        A painted mask goes first (``add_new_mask``: it replaces the object's clicks there),
        then the clicks and box, if any (``add_new_points_or_box``, which decodes them with
        the painted mask's result as the mask input: clicks refine the painted mask). Sending
        the painted mask again before every click keeps a frame's answer a function of its
        prompts alone, the same live and when the prompts are replayed (model switch, undo).
        """
        result = None
        if prompts.mask is not None:
            result = predictor.add_new_mask(state, frame_idx=frame, obj_id=int(obj_id), mask=prompts.mask.unpack())
        if prompts.has_clicks or result is None:
            coords, labels = prompts.point_arrays()
            result = predictor.add_new_points_or_box(
                state, frame_idx=frame, obj_id=int(obj_id), points=coords, labels=labels,
                clear_old_points=True, box=prompts.box_array(),
            )
        _, obj_ids, logits = result
        return logits_to_masks(obj_ids, logits)

    @staticmethod
    def knows(state: Any, obj_id: int) -> bool:
        return int(obj_id) in state.obj_id_to_idx

    @classmethod
    def clear(cls, predictor: Any, state: Any, frame: int, obj_id: int) -> Optional[FrameMasks]:
        """Remove ``obj_id``'s prompts on ``frame``; masks there (None if the model never saw it)."""
        if not cls.knows(state, obj_id):
            return None
        _, obj_ids, logits = predictor.clear_all_prompts_in_frame(state, frame, int(obj_id))
        return logits_to_masks(obj_ids, logits)

    @classmethod
    def remove(cls, predictor: Any, state: Any, obj_id: int) -> None:
        if cls.knows(state, obj_id):
            predictor.remove_object(state, int(obj_id), need_output=False)

    @staticmethod
    def reset(predictor: Any, state: Any) -> None:
        predictor.reset_state(state)

    @staticmethod
    def propagate(predictor: Any, state: Any, start: int, reverse: bool) -> Iterator[Tuple[int, FrameMasks]]:
        """Track every prompted object from ``start`` to the end (or to frame 0)."""
        for frame, obj_ids, logits in predictor.propagate_in_video(state, start_frame_idx=start, reverse=reverse):
            yield int(frame), logits_to_masks(obj_ids, logits)
