"""EdgeTAM in the video predictor: every session feature SAM 2 has here, on a small random
EdgeTAM (256 px input, so the memory map is 16 x 16 and the perceiver's windows 1 x 1).

Numbers are checked against the EdgeTAM reference by tests/test_edgetam_video_parity.py;
this file checks what the reference's older predictor could not do: objects added after
tracking (tracked as if they had been there from the start), corrections, clearing a
frame, removing an object, several objects compressed in one batch.
"""

from __future__ import annotations

import pytest
import torch

from tests.support.media import moving_square_clip, small_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

H, W, N = 48, 64, 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def predictor() -> SAM2VideoPredictor:
    # as the app runs it: a click on a tracked frame makes it a prompted frame (corrections stick)
    model = small_video_predictor("edgetam", 256, add_all_frames_to_correct_as_cond=True)
    with torch.no_grad():  # random weights would often call the object absent: keep it visible
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(10.0)
    return model


@pytest.fixture(scope="module")
def frames():
    return moving_square_clip(N, H, W, seed=1, top=12, left=8, step=3, value=230)


def _track(predictor, state, **kwargs):
    return {f: (ids, masks.clone()) for f, ids, masks in predictor.propagate_in_video(state, **kwargs)}


def test_memories_are_compressed_tokens(predictor, frames):
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    predictor.add_new_points_or_box(state, 0, 2, box=[30, 5, 60, 40])
    _track(predictor, state, max_frame_num_to_track=2)
    out = state.output_dict_per_obj[1].non_cond_frame_outputs[2]
    # 256 global + 256 local latents of 64 channels, stored rounded to bfloat16
    assert out.maskmem_features.shape == (1, 512, 64) and out.maskmem_features.dtype == torch.bfloat16
    assert out.maskmem_pos_enc[0].shape == (1, 512, 64)
    assert (out.maskmem_pos_enc[0][:, :256] == 0).all()  # global latents carry no position


def test_batched_perceiver_equals_one_object_at_a_time(predictor):
    """The reference's perceiver fails on a batch of objects; ours compresses each as alone."""
    torch.manual_seed(1)
    x, pos = torch.randn(3, 64, 16, 16), torch.randn(1, 64, 16, 16).expand(3, -1, -1, -1)
    with torch.no_grad():
        batched, batched_pos = predictor.spatial_perceiver(x, pos)
        for i in range(3):
            alone, alone_pos = predictor.spatial_perceiver(x[i:i + 1], pos[i:i + 1])
            torch.testing.assert_close(batched[i:i + 1], alone, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(batched_pos[i:i + 1], alone_pos)


def test_object_added_after_tracking_is_tracked_as_if_there_from_the_start(predictor, frames):
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    first = _track(predictor, state)
    # a second object, added once the first is tracked through the clip
    f, ids, masks = predictor.add_new_points_or_box(state, 0, 2, box=[30, 5, 60, 40])
    assert ids == [1, 2] and masks.shape == (2, 1, H, W)
    second = _track(predictor, state)
    assert sorted(second) == list(range(N))
    for f in range(N):
        assert second[f][0] == [1, 2]
        torch.testing.assert_close(second[f][1][0], first[f][1][0])  # object 1 unchanged

    alone_state = predictor.init_state(frames)
    predictor.add_new_points_or_box(alone_state, 0, 2, box=[30, 5, 60, 40])
    alone = _track(predictor, alone_state)
    for f in range(N):  # object 2 tracked exactly as in a session where it was the only one
        torch.testing.assert_close(second[f][1][1], alone[f][1][0], rtol=1e-4, atol=1e-3)


def test_corrections_clear_frame_and_remove_object(predictor, frames):
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    predictor.add_new_points_or_box(state, 0, 2, box=[30, 5, 60, 40])
    before = _track(predictor, state)

    # a correction on a tracked frame sticks through the next propagation and changes what
    # follows it (for that object only)
    _, _, corrected = predictor.add_new_points_or_box(state, 3, 1, points=[[40, 30]], labels=[0],
                                                      clear_old_points=False)
    assert not torch.equal(corrected[0], before[3][1][0])
    after = _track(predictor, state)
    assert 3 in state.output_dict_per_obj[0].cond_frame_outputs
    torch.testing.assert_close(after[3][1][0], corrected[0])
    assert not torch.equal(after[4][1][0], before[4][1][0])
    torch.testing.assert_close(after[4][1][1], before[4][1][1])  # object 2 untouched

    # clearing that frame's prompts leaves object 1 prompted on frame 0 only
    f, ids, masks = predictor.clear_all_prompts_in_frame(state, 3, 1)
    assert f == 3 and ids == [1, 2]
    assert sorted(state.output_dict_per_obj[0].cond_frame_outputs) == [0]
    cleared = _track(predictor, state)
    torch.testing.assert_close(cleared[5][1][0], before[5][1][0], rtol=1e-4, atol=1e-3)

    ids, _ = predictor.remove_object(state, 1)
    assert ids == [2]
    remaining = _track(predictor, state)
    assert all(r[0] == [2] and r[1].shape == (1, 1, H, W) for r in remaining.values())
    torch.testing.assert_close(remaining[5][1][0], before[5][1][1], rtol=1e-4, atol=1e-3)
