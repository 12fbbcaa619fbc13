"""Memory frames projected once per stored frame: the same numbers as projecting the whole
concatenated memory every frame, and a cache (owned by the session, ``MemoryCache``) that is
reused, refreshed and bounded."""

from __future__ import annotations

import pytest
import torch

from sam2.configs import get_config
from sam2.modeling import memory_attention
from sam2.modeling.memory_attention import MemoryAttention
from sam2.modeling.memory_cache import MemoryCache
from sam2.sam2_video_predictor import SAM2VideoPredictor
from tests.support.media import moving_square_clip


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _memory_inputs(num_frames: int, num_ptrs: int, side: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    hw = side * side
    curr, curr_pos = torch.randn(hw, 2, 256, generator=g), torch.randn(hw, 2, 256, generator=g)
    mems = [torch.randn(hw, 2, 64, generator=g) for _ in range(num_frames)]
    poss = [torch.randn(hw, 2, 64, generator=g) for _ in range(num_frames)]
    tpos = [torch.randn(64, generator=g) for _ in range(num_frames)]
    ptr, ptr_pos = torch.randn(num_ptrs, 2, 64, generator=g), torch.randn(num_ptrs, 2, 64, generator=g)
    return curr, curr_pos, mems, poss, tpos, ptr, ptr_pos


@pytest.mark.parametrize("fold_values", [False, True])
@pytest.mark.parametrize("num_ptrs", [0, 8])
def test_projected_frames_compute_what_the_concatenated_memory_computes(monkeypatch, fold_values, num_ptrs):
    if fold_values:  # folding is used where attention runs as GEMMs; force it to check the math
        monkeypatch.setattr(memory_attention, "attention_is_blocked", lambda device, dtype: True)
    torch.manual_seed(0)
    cfg = get_config("sam2.1_hiera_t").memory_attention
    module = MemoryAttention(type(cfg)(**{**cfg.__dict__, "feat_sizes": (8, 8)})).eval()
    curr, curr_pos, mems, poss, tpos, ptr, ptr_pos = _memory_inputs(3, num_ptrs)
    memory = torch.cat(mems + [ptr])
    memory_pos = torch.cat([p + t for p, t in zip(poss, tpos)] + [ptr_pos])
    with torch.no_grad():
        expected = module(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=num_ptrs)
        frames = [(module.project(m, p), t) for m, p, t in zip(mems, poss, tpos)]
        pointers = [(module.project(ptr, ptr_pos, num_unrotated_tail=num_ptrs), None)] if num_ptrs else []
        got = module(curr, curr_pos=curr_pos, parts=frames + pointers)
        # a frame without a temporal encoding is a frame whose encoding is zero
        frames[1] = (frames[1][0], None)
        tpos[1] = torch.zeros(64)
        memory_pos = torch.cat([p + t for p, t in zip(poss, tpos)] + [ptr_pos])
        expected_no_tpos = module(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=num_ptrs)
        got_no_tpos = module(curr, curr_pos=curr_pos, parts=frames + pointers)
    assert got.shape == expected.shape == (64, 2, 256)
    assert _rel(got, expected) < 1e-5
    assert _rel(got_no_tpos, expected_no_tpos) < 1e-5
    assert _rel(got_no_tpos, got) > 1e-3  # the temporal encoding does matter


def test_projected_frames_need_some_memory():
    module = MemoryAttention(get_config("sam2.1_hiera_t").memory_attention).eval()
    with pytest.raises(ValueError, match="at least one"):
        module(torch.zeros(4096, 1, 256), curr_pos=torch.zeros(4096, 1, 256), parts=[])
    with pytest.raises(ValueError, match="needs a memory"):
        module(torch.zeros(4096, 1, 256), curr_pos=torch.zeros(4096, 1, 256))


def test_cache_is_tied_to_the_memory_tensors_and_keeps_only_what_was_used():
    cache = MemoryCache()
    made = []

    def make(tag):
        made.append(tag)
        return tag

    a, b, pos = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    assert cache.projection(0, 3, a, pos, "cpu", lambda: make("a0")) == "a0"  # not active: not kept
    assert cache.num_projections() == 0
    cache.active = True
    obj = cache.for_object(0)
    assert obj.projection(3, a, pos, "cpu", lambda: make("a")) == "a"
    assert obj.projection(3, a, pos, "cpu", lambda: make("a2")) == "a"  # reused
    assert obj.projection(3, torch.zeros(1), pos, "cpu", lambda: make("a3")) == "a3"  # re-encoded memory
    assert obj.projection(3, a, torch.zeros(1), "cpu", lambda: make("a4")) == "a4"  # other position tensor
    assert obj.projection(3, a, pos, "cpu/bf16", lambda: make("a5")) == "a5"  # other compute dtype
    obj.projection(4, b, pos, "cpu", lambda: make("b"))
    assert cache.for_object(1).projection(3, a, pos, "cpu", lambda: make("other")) == "other"  # per object
    assert cache.num_projections(0) == 2 and cache.num_projections() == 3
    obj.retain([4])
    assert cache.num_projections(0) == 1 and obj.projection(4, b, pos, "cpu", lambda: make("b2")) == "b"
    assert obj.first_self_attention(7, "how", lambda: make("s7")) == "s7"
    assert cache.for_object(1).first_self_attention(7, "how", lambda: make("s7'")) == "s7"  # shared by objects
    assert obj.first_self_attention(7, "bf16", lambda: make("s7b")) == "s7b"
    assert obj.first_self_attention(8, "bf16", lambda: make("s8")) == "s8"
    cache.clear()
    assert cache.num_projections() == 0
    assert obj.first_self_attention(8, "bf16", lambda: make("s8'")) == "s8'"
    assert made == ["a0", "a", "a3", "a4", "a5", "b", "other", "s7", "s7b", "s8", "s8'"]


H, W, N = 48, 64, 10


@pytest.fixture(scope="module")
def frames():
    return moving_square_clip(N, H, W, seed=1, top=12, left=8, step=3, value=230)


def _predictor() -> SAM2VideoPredictor:
    torch.manual_seed(0)
    cfg = get_config("sam2.1_hiera_t", image_size=128)
    return SAM2VideoPredictor(cfg).eval()


def _uncached(self, obj, frame_idx, features, pos, how, make):
    return make()


def _track(predictor, frames, clicks, cached_counts=None):
    state = predictor.init_state(frames)
    for frame_idx, point in clicks:
        predictor.add_new_points_or_box(state, frame_idx, 1, points=[point], labels=[1])
    masks = {}
    for f, _, m in predictor.propagate_in_video(state):
        masks[f] = m.clone()
        if cached_counts is not None:
            cached_counts.append(state.memory_cache.num_projections(0))
    return state, masks


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_tracking_projects_each_stored_memory_once_with_the_same_masks(monkeypatch, frames):
    predictor = _predictor()
    projected = []
    original = MemoryAttention.project

    def counting(self, memory, pos, num_unrotated_tail=0, grid_tokens=None):
        if num_unrotated_tail == 0:  # a stored frame (not the object pointers)
            projected.append(memory.data_ptr())
        return original(self, memory, pos, num_unrotated_tail, grid_tokens)

    monkeypatch.setattr(MemoryAttention, "project", counting)
    counts = []
    state, cached = _track(predictor, frames, [(0, [18, 20])], counts)
    # frame 0 (prompted) and frames 1..N-2 are each projected once, when first attended to
    assert len(projected) == N - 1
    # while tracking, the cache holds the frames the last step attended to; afterwards nothing
    assert counts == [0] + [min(f, predictor.num_maskmem) for f in range(1, N)]
    assert state.memory_cache.num_projections() == 0

    # without the cache (every frame projects its whole memory bank) the masks are identical
    projected.clear()
    monkeypatch.setattr(MemoryCache, "projection", _uncached)
    _, uncached = _track(predictor, frames, [(0, [18, 20])])
    assert len(projected) > 3 * N
    assert cached.keys() == uncached.keys()
    for f in cached:
        assert torch.equal(cached[f], uncached[f])


def _track_then_click_again(predictor, frames):
    state, _ = _track(predictor, frames, [(0, [18, 20])])
    # a second click on tracked frame 4 re-encodes its memory; propagating again must use it
    predictor.add_new_points_or_box(state, 4, 1, points=[[30, 22]], labels=[1])
    assert state.memory_cache.num_projections() == 0  # a click keeps none
    return {f: m.clone() for f, _, m in predictor.propagate_in_video(state)}


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_new_clicks_on_a_tracked_frame_refresh_its_projection(monkeypatch, frames):
    predictor = _predictor()
    cached = _track_then_click_again(predictor, frames)
    monkeypatch.setattr(MemoryCache, "projection", _uncached)
    uncached = _track_then_click_again(predictor, frames)
    assert cached.keys() == uncached.keys() == set(range(N))
    for f in cached:
        assert torch.equal(cached[f], uncached[f]), f


def test_stopping_a_propagation_early_drops_the_projections(frames):
    predictor = _predictor()
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, points=[[18, 20]], labels=[1])
    run = predictor.propagate_in_video(state)
    for _ in range(4):
        next(run)
    assert state.memory_cache.num_projections(0) == 3
    run.close()  # what a cancelled tracking run in the app does
    assert state.memory_cache.num_projections() == 0 and not state.memory_cache.active


def _counting_first_layer(monkeypatch, module_or_predictor):
    layer0 = getattr(module_or_predictor, "memory_attention", module_or_predictor).layers[0]
    calls = []
    original = memory_attention.MemoryAttentionLayer.attend_to_self

    def counting(self, tgt, query_pos=None):
        if self is layer0:
            calls.append(1)
        return original(self, tgt, query_pos)

    monkeypatch.setattr(memory_attention.MemoryAttentionLayer, "attend_to_self", counting)
    return calls


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_objects_tracked_together_share_the_first_self_attention_with_the_same_masks(monkeypatch, frames):
    def track_two(predictor):
        state = predictor.init_state(frames)
        predictor.add_new_points_or_box(state, 0, 1, points=[[18, 20]], labels=[1])
        predictor.add_new_points_or_box(state, 0, 2, points=[[40, 50]], labels=[1])
        return {f: m.clone() for f, _, m in predictor.propagate_in_video(state)}

    predictor = _predictor()
    calls = _counting_first_layer(monkeypatch, predictor)
    shared = track_two(predictor)
    assert len(calls) == N - 1  # once per tracked frame, not once per object
    monkeypatch.setattr(MemoryCache, "first_self_attention", lambda self, frame_idx, how, make: make())
    separate = track_two(predictor)
    assert len(calls) == 3 * (N - 1)
    assert shared.keys() == separate.keys()
    for f in shared:
        assert shared[f].shape[0] == 2 and torch.equal(shared[f], separate[f]), f
