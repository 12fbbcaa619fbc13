"""SAM2VideoPredictor behaviour on a small random model (128 px input) and a tiny video.

Numbers are checked against the reference by tests/test_video_parity.py; this file checks
the session logic: prompts, propagation, object bookkeeping, errors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sam2.configs import get_config
from sam2.modeling.tracker import NO_OBJ_SCORE, get_1d_sine_pe, select_closest_cond_frames
from sam2.sam2_video_predictor import SAM2VideoPredictor
from sam2.video_state import UnknownObjectError
from tests.support.media import moving_square_clip, small_video_predictor

H, W, N = 48, 64, 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _predictor(**kwargs) -> SAM2VideoPredictor:
    return small_video_predictor("sam2.1_hiera_t", 128, **kwargs)


@pytest.fixture(scope="module")
def predictor():
    return _predictor()


@pytest.fixture(scope="module")
def frames():
    return moving_square_clip(N, H, W, seed=0, top=10, left=10, step=2, value=220)


def test_full_session_flow(predictor, frames):
    state = predictor.init_state(frames)
    assert state["num_frames"] == N and state["video_height"] == H and state["video_width"] == W
    assert state.images[0].shape == (3, 128, 128)

    f, ids, masks = predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    assert (f, ids, masks.shape, masks.dtype) == (0, [1], (1, 1, H, W), torch.float32)
    f, ids, masks = predictor.add_new_points_or_box(state, 0, "cup", box=[5, 5, 40, 40])
    assert ids == [1, "cup"] and masks.shape == (2, 1, H, W)

    seen = [(f, ids, m.shape) for f, ids, m in predictor.propagate_in_video(state)]
    assert [s[0] for s in seen] == list(range(N))
    assert all(s[1] == [1, "cup"] and s[2] == (2, 1, H, W) for s in seen)
    bank = state.output_dict_per_obj[0]
    assert list(bank.cond_frame_outputs) == [0] and sorted(bank.non_cond_frame_outputs) == list(range(1, N))
    # memories are stored rounded to bfloat16, masks and pointers in float32
    out = bank.non_cond_frame_outputs[3]
    assert out.maskmem_features.dtype == torch.bfloat16 and out["pred_masks"].dtype == torch.float32
    assert out.pred_masks.shape == (1, 1, 32, 32)

    # a correction click on a tracked frame decodes with the previous mask, not conditioning
    predictor.add_new_points_or_box(state, 3, 1, points=[[30, 20]], labels=[0], clear_old_points=False)
    assert 3 in state.temp_output_dict_per_obj[0].non_cond_frame_outputs

    # an object added after propagation is tracked in the next propagation
    f, ids, masks = predictor.add_new_mask(state, 4, 7, np.pad(np.ones((10, 10), bool), ((5, 33), (5, 49))))
    assert ids == [1, "cup", 7] and masks.shape == (3, 1, H, W)
    assert (masks[2, 0, 8:12, 8:12] > 0).all() and (masks[2, 0, 30:, 40:] < 0).all()  # mask prompt = output
    rev = list(predictor.propagate_in_video(state, start_frame_idx=5, reverse=True))
    assert [r[0] for r in rev] == [5, 4, 3, 2, 1, 0]
    assert all(r[2].shape == (3, 1, H, W) for r in rev)

    ids, updated = predictor.remove_object(state, "cup")
    assert ids == [1, 7] and [u[0] for u in updated] == [0]
    assert state.obj_id_to_idx == {1: 0, 7: 1}
    predictor.reset_state(state)
    assert state.obj_ids == [] and state.output_dict_per_obj == {}


def test_clearing_the_only_prompt_does_not_break_propagation(predictor, frames):
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    predictor.add_new_points_or_box(state, 1, 2, points=[[40, 30]], labels=[1])
    f, ids, masks = predictor.clear_all_prompts_in_frame(state, 1, 2)
    assert (masks[1] == NO_OBJ_SCORE).all()
    results = list(predictor.propagate_in_video(state, max_frame_num_to_track=2))
    assert [r[0] for r in results] == [0, 1, 2]
    for _, ids, masks in results:
        assert ids == [1, 2] and (masks[1] == NO_OBJ_SCORE).all()  # object 2 has no prompt: absent
    # ... also after it was tracked
    predictor.clear_all_prompts_in_frame(state, 0, 1)
    with pytest.raises(RuntimeError, match="No input points or masks"):
        list(predictor.propagate_in_video(state))


def test_errors(predictor, frames):
    state = predictor.init_state(frames)
    for bad in (-1, N, 2.5, "0"):
        with pytest.raises(ValueError, match="frame"):
            predictor.add_new_points_or_box(state, bad, 1, points=[[1, 1]], labels=[1])
    with pytest.raises(ValueError, match="together"):
        predictor.add_new_points_or_box(state, 0, 1, points=[[1, 1]])
    with pytest.raises(ValueError, match="at least one"):
        predictor.add_new_points_or_box(state, 0, 1)
    with pytest.raises(ValueError, match="2 points but 1 labels"):
        predictor.add_new_points_or_box(state, 0, 1, points=[[1, 1], [2, 2]], labels=[1])
    with pytest.raises(ValueError, match="box"):
        predictor.add_new_points_or_box(state, 0, 1, box=[1, 2, 3])
    with pytest.raises(ValueError, match="clear"):
        predictor.add_new_points_or_box(state, 0, 1, box=[1, 2, 3, 4], clear_old_points=False)
    assert state.obj_ids == []  # failed calls register nothing
    with pytest.raises(ValueError, match="2-D"):
        predictor.add_new_mask(state, 0, 1, np.ones((2, 3, 4)))
    with pytest.raises(RuntimeError, match="No input"):
        list(predictor.propagate_in_video(state))
    predictor.add_new_points_or_box(state, 0, 1, points=[[1, 1]], labels=[1])
    with pytest.raises(ValueError, match="unknown object id 5"):
        predictor.clear_all_prompts_in_frame(state, 0, 5)
    with pytest.raises(UnknownObjectError):
        predictor.remove_object(state, 5, strict=True)
    assert predictor.remove_object(state, 5) == ([1], [])
    with pytest.raises(ValueError, match="start_frame_idx"):
        list(predictor.propagate_in_video(state, start_frame_idx=N))
    with pytest.raises(ValueError, match="max_frame_num_to_track"):
        list(predictor.propagate_in_video(state, max_frame_num_to_track=-1))


def test_non_overlap_and_memory_clearing_options(frames):
    p = _predictor(non_overlap_masks=True, clear_non_cond_mem_around_input=True)
    state = p.init_state(frames)
    p.add_new_points_or_box(state, 0, 1, box=[0, 0, 63, 47])
    p.add_new_points_or_box(state, 0, 2, box=[0, 0, 63, 47])
    for _, _, masks in p.propagate_in_video(state, max_frame_num_to_track=2):
        assert ((masks > 0).sum(0) <= 1).all()
    p.add_new_points_or_box(state, 2, 1, points=[[10, 10]], labels=[1])
    list(p.propagate_in_video(state, start_frame_idx=2, max_frame_num_to_track=0))
    # the prompt on frame 2 (a tracked frame) dropped object 1's tracked memories around it
    assert 1 not in state.output_dict_per_obj[0].non_cond_frame_outputs
    assert 1 in state.output_dict_per_obj[1].non_cond_frame_outputs


def test_fill_hole_area_comes_from_config_unless_given():
    cfg = get_config("sam2.1_hiera_t", image_size=128)
    assert SAM2VideoPredictor(dataclasses.replace(cfg, fill_hole_area=8)).fill_hole_area == 8
    assert SAM2VideoPredictor(dataclasses.replace(cfg, fill_hole_area=8), fill_hole_area=0).fill_hole_area == 0
    assert SAM2VideoPredictor(cfg).fill_hole_area == 0
    with pytest.raises(TypeError, match="bogus"):
        SAM2VideoPredictor(cfg, bogus=1)


def test_from_pretrained_builds_the_class_it_is_called_on(monkeypatch, tiny_checkpoint):
    import sam2.hub as hub

    class MyPredictor(SAM2VideoPredictor):
        pass

    asked = []
    monkeypatch.setattr(hub, "hf_download", lambda mid: asked.append(mid) or ("sam2.1_hiera_t", tiny_checkpoint))
    predictor = MyPredictor.from_pretrained("facebook/sam2.1-hiera-tiny", device="cpu", non_overlap_masks=True)
    assert asked == ["facebook/sam2.1-hiera-tiny"]
    assert type(predictor) is MyPredictor and predictor.non_overlap_masks and not predictor.training
    assert predictor.fill_hole_area == 8  # the builder's video post-processing options


def test_tracker_helpers():
    outs = {0: "a", 10: "b", 20: "c", 30: "d"}
    sel, rest = select_closest_cond_frames(12, outs, 3)
    assert sorted(sel) == [0, 10, 20] and sorted(rest) == [30]
    sel, rest = select_closest_cond_frames(12, outs, -1)
    assert sel == outs and rest == {}
    pe = get_1d_sine_pe(torch.tensor([0.0, 0.5]), dim=8)
    assert pe.shape == (2, 8) and torch.allclose(pe[0], torch.tensor([0, 0, 0, 0, 1, 1, 1, 1.0]))

    p = _predictor()
    masks = torch.tensor([[3.0, -1.0], [1.0, 2.0]]).reshape(2, 1, 1, 2)
    out = p._apply_non_overlapping_constraints(masks)
    assert out[0, 0, 0].tolist() == [3.0, -10.0] and out[1, 0, 0].tolist() == [-10.0, 2.0]
    one_click = {"point_labels": torch.ones(1, 1)}
    two_clicks = {"point_labels": torch.ones(1, 2)}
    assert p._use_multimask(True, one_click) and not p._use_multimask(True, two_clicks)
    assert p._use_multimask(False, None)  # tracking: multimask (0 points within [0, 1])


def test_object_pointer_temporal_encoding_sam2_vs_sam21():
    """SAM 2.1 encodes signed, projected distances of object pointers; SAM 2 none."""
    torch.manual_seed(0)
    for name, expect_pos in (("sam2.1_hiera_t", True), ("sam2_hiera_t", False)):
        p = SAM2VideoPredictor(get_config(name, image_size=128)).eval()
        bank = {"cond_frame_outputs": {0: {"obj_ptr": torch.randn(1, 256)}},
                "non_cond_frame_outputs": {2: {"obj_ptr": torch.randn(1, 256)}}}
        with torch.no_grad():
            tokens, pos = p._object_pointer_tokens(3, bank, bank["cond_frame_outputs"], {}, 10, False, 1,
                                                   torch.device("cpu"), torch.float32)
        # 2 pointers of 256 channels, split into 4 memory tokens of 64 each
        assert tokens.shape == (8, 1, 64) and pos.shape == (8, 1, 64)
        assert bool(pos.abs().sum() > 0) == expect_pos


def test_bfloat16_autocast_on_cpu(predictor, frames):
    """Memories are stored as bfloat16 and used in the compute dtype: no dtype clash."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        state = predictor.init_state(frames[:3])
        predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        predictor.add_new_mask(state, 1, 2, np.ones((H, W), bool))
        results = list(predictor.propagate_in_video(state))
    assert [r[0] for r in results] == [0, 1, 2]
    assert all(r[2].dtype == torch.float32 and torch.isfinite(r[2]).all() for r in results)
