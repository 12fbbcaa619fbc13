"""The video brush with the real predictor (SAM 2.1 tiny, seeded random weights): a stroke on a
frame reaches ``SAM2VideoPredictor.add_new_mask`` as the shown mask with the stroke added, the
mask shown at once is the model's answer to it, and a later Track follows it (the tracked
frame's output differs from the same run without the stroke)."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from ui.common.strokes import Stroke, apply_strokes
from ui.video.controller import VideoController
from ui.video.engine import VideoEngine

from tests.support.media import pattern_clip
from tests.support.video_fakes import LIMITS, TINY, FakeRegistry, run_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """2 frames of 160x120."""
    return pattern_clip(tmp_path_factory.mktemp("clips"), "clip2.mp4", frames=2)


def test_a_stroke_is_an_add_new_mask_and_tracking_follows_it(tiny_checkpoint, clip_path):
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor("sam2.1_hiera_t", tiny_checkpoint, device="cpu")
    given = []
    real_add_new_mask = predictor.add_new_mask

    def spy(state, frame_idx, obj_id, mask):
        given.append((frame_idx, obj_id, np.array(mask, dtype=bool)))
        return real_add_new_mask(state, frame_idx=frame_idx, obj_id=obj_id, mask=mask)

    predictor.add_new_mask = spy
    c = VideoController(VideoEngine(FakeRegistry({TINY: predictor})), LIMITS)
    c.load("s", clip_path)
    slot = c.sessions.get("s").state
    st = slot.state

    def tracked_logits() -> torch.Tensor:
        run_track(c, "s", "forward", 0)
        out = slot.inference.frame_output(slot.inference.obj_id_to_idx[1], 1)
        return out.pred_masks.detach().float().clone()

    c.add_point("s", 0, 80, 60, True, 1)
    clicked = st.masks.mask(0, 1)
    unpainted = tracked_logits()

    stroke = ((10.0, 10.0), (70.0, 15.0))
    c.add_stroke("s", 0, list(stroke), 9.0, False, 1)
    expected = apply_strokes(clicked, (Stroke(stroke, 9.0, False, (120, 160)),))
    (frame, oid, mask), = given
    assert (frame, oid) == (0, 1) and np.array_equal(mask, expected)
    assert expected.sum() > clicked.sum() + 300
    # shown at once: the model's answer to a mask prompt is that mask (resized to the model and back)
    shown = st.masks.mask(0, 1)
    iou = (shown & expected).sum() / (shown | expected).sum()
    assert iou > 0.97 and shown[12, 40], iou
    assert st.objects[0].prompts[0].points == ()  # the mask prompt replaced the click there

    painted = tracked_logits()
    assert painted.shape == unpainted.shape
    assert float((painted - unpainted).abs().max()) > 0.05, "tracking did not use the painted mask"
    assert not st.tracking_stale and len(st.masks.frames()) == 2
