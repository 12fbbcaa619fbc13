"""A stand-in video predictor and model registry for the video side's controller tests: masks
from a simple rule instead of model math, so the controller's bookkeeping runs in milliseconds."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Dict

import numpy as np
import torch

from ui.models.names import resolve_model_id
from ui.video.controller import VideoController
from ui.video.engine import VideoEngine
from ui.video.media import VideoLimits

TINY, SMALL = "facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-small"


class FakeState:
    def __init__(self, frames) -> None:
        self.num_frames = len(frames)
        self.video_height, self.video_width = frames.video_height, frames.video_width
        self.obj_id_to_idx: Dict[int, int] = {}
        self.cond: Dict[int, Dict[int, np.ndarray]] = {}
        self.tracked: Dict[int, Dict[int, np.ndarray]] = {}
        self.mask_inputs: Dict[tuple, np.ndarray] = {}  # (obj_id, frame) -> the mask prompt there


class FakePredictor:
    """Masks: discs of radius 6 around foreground clicks (minus background ones), or a box.
    Tracking copies each object's nearest prompted mask; ``delay`` seconds per frame."""

    image_size = 1024

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.add_all_frames_to_correct_as_cond = False
        self.prompt_calls = []
        self.removed = []
        self.mask_calls = []  # (frame, obj_id, mask) of every add_new_mask

    #: set to an OSError to have init_state with spill=True raise it (an unusable spill folder)
    spill_init_error = None
    #: propagate_in_video raises sam2's SpillError once before this frame (a disk that fills up)
    spill_fail_at = None

    def init_state(self, frames, spill=True, spill_dir=None):
        self.init_calls = getattr(self, "init_calls", []) + [(spill, spill_dir)]
        if spill and self.spill_init_error is not None:
            raise self.spill_init_error
        return FakeState(frames)

    def _logits(self, st, frame):
        out = []
        for oid in st.obj_id_to_idx:
            m = st.cond[oid].get(frame)
            if m is None:
                m = st.tracked[oid].get(frame)
            out.append(np.zeros((st.video_height, st.video_width), bool) if m is None else m)
        return frame, list(st.obj_id_to_idx), torch.from_numpy(np.stack(out)[:, None].astype(np.float32) * 20 - 10)

    def add_new_points_or_box(self, st, frame_idx, obj_id, points=None, labels=None, clear_old_points=True, box=None):
        assert clear_old_points
        if not 0 <= frame_idx < st.num_frames:
            raise ValueError("frame out of range")
        self.prompt_calls.append((frame_idx, obj_id))
        st.obj_id_to_idx.setdefault(obj_id, len(st.obj_id_to_idx))
        st.cond.setdefault(obj_id, {})
        st.tracked.setdefault(obj_id, {})
        yy, xx = np.mgrid[: st.video_height, : st.video_width]
        # like the real predictor: clicks after a mask prompt start from that mask (which they replace)
        given = st.mask_inputs.pop((obj_id, frame_idx), None)
        m = np.zeros((st.video_height, st.video_width), bool) if given is None else given.copy()
        if box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            m[y0: y1 + 1, x0: x1 + 1] = True
        for (x, y), lab in zip([] if points is None else points, [] if labels is None else labels):
            disc = (xx - x) ** 2 + (yy - y) ** 2 <= 36
            m = (m | disc) if lab == 1 else (m & ~disc)
        st.cond[obj_id][frame_idx] = m
        return self._logits(st, frame_idx)

    def add_new_mask(self, st, frame_idx, obj_id, mask):
        if not 0 <= frame_idx < st.num_frames:
            raise ValueError("frame out of range")
        m = np.asarray(mask, bool).copy()
        self.mask_calls.append((frame_idx, obj_id, m))
        st.obj_id_to_idx.setdefault(obj_id, len(st.obj_id_to_idx))
        st.cond.setdefault(obj_id, {})[frame_idx] = m
        st.tracked.setdefault(obj_id, {})
        st.mask_inputs[(obj_id, frame_idx)] = m
        return self._logits(st, frame_idx)

    def propagate_in_video(self, st, start_frame_idx=None, reverse=False):
        if not any(st.cond.values()):
            raise RuntimeError("No prompts")
        # like SAM2VideoPredictor: nothing backward from frame 0
        order = (range(start_frame_idx, -1, -1) if start_frame_idx > 0 else range(0)) if reverse \
            else range(start_frame_idx, st.num_frames)
        for f in order:
            if self.spill_fail_at is not None and f == self.spill_fail_at:
                from sam2.spill_store import SpillError

                self.spill_fail_at = None
                raise SpillError(28, "could not write to the spill folder /srv/secret/spill (No space left on device)")
            for oid in st.obj_id_to_idx:
                if st.cond[oid] and f not in st.cond[oid]:
                    nearest = min(st.cond[oid], key=lambda c: abs(c - f))
                    st.tracked[oid][f] = st.cond[oid][nearest]
            if self.delay:
                time.sleep(self.delay)
            yield self._logits(st, f)

    def clear_all_prompts_in_frame(self, st, frame_idx, obj_id, need_output=True):
        st.mask_inputs.pop((obj_id, frame_idx), None)
        m = st.cond[obj_id].pop(frame_idx, None)
        if m is not None:
            st.tracked[obj_id][frame_idx] = m
        return self._logits(st, frame_idx)

    def remove_object(self, st, obj_id, strict=False, need_output=True):
        self.removed.append(obj_id)
        for d in (st.obj_id_to_idx, st.cond, st.tracked):
            d.pop(obj_id, None)

    def reset_state(self, st):
        self.resets = getattr(self, "resets", 0) + 1
        for d in (st.obj_id_to_idx, st.cond, st.tracked, st.mask_inputs):
            d.clear()


class FakeRegistry:
    device = "cpu"
    default_model = TINY

    def __init__(self, predictors, unavailable=()) -> None:
        self.predictors = predictors
        self.unavailable = set(unavailable)

    def resolve(self, name):
        return self.default_model if not name else resolve_model_id(name)

    def tracking_default(self):
        return self.default_model

    def require_available(self, name):
        from ui.common.errors import ModelUnavailableError

        model_id = self.resolve(name)
        if model_id in self.unavailable:
            raise ModelUnavailableError(f"{model_id} is unavailable: no weights here.", model_id=model_id,
                                        offline=True)
        return model_id

    def get(self, name, kind="image", progress=None):
        assert kind == "video"
        model_id = self.resolve(name)
        return SimpleNamespace(model_id=model_id, model=self.predictors[model_id])


LIMITS = VideoLimits(max_seconds=5, max_frames=40, max_fps=10, max_short_side=120, max_long_side=214)


def fake_controller(delay=0.0, limits=LIMITS):
    preds = {TINY: FakePredictor(delay), SMALL: FakePredictor(delay)}
    return VideoController(VideoEngine(FakeRegistry(preds)), limits), preds


def run_track(c, sid, direction, frame):
    views = [v for v in c.track(sid, direction, frame) if v is not None]
    return views
