"""A session's bookkeeping over a long video, with a stand-in for the model (no model math).

``StandInPredictor`` is a real ``SAM2VideoPredictor`` whose image encoder and tracking step
are replaced by cheap stand-ins: each frame's outputs are seeded random tensors (so what is
read back can be checked against what was written) and each step reads the memory frames
and object pointers the real tracker reads. Everything else (prompts, propagation, memory
banks, spilling to disk, read-back) is the session's own code.

Checked here: flat memory over 20,000 tracked frames with a correct read-back of frame 10 at
the end; the spill folder's lifetime (close, garbage collection, reset, a crash's leftovers);
hostile spill folders (unusable, full disk): a clear error and a session that goes on.
"""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch

import sam2.spill_store as spill_store
import sam2.media.spill_paths as spill_paths
from sam2.configs import get_config
from sam2.modeling.tracker import FrameOutput
from sam2.sam2_video_predictor import SAM2VideoPredictor
from sam2.spill_store import SpillError, SpillStore

LOW = 32  # stand-in mask logits are 1 x 1 x LOW x LOW


def expected_outputs(frame_idx: int):
    """What the stand-in produces on a frame: (mask logits, pointer, score, memory)."""
    g = torch.Generator().manual_seed(frame_idx)
    return (torch.randn(1, 1, LOW, LOW, generator=g), torch.randn(1, 256, generator=g),
            torch.randn(1, 1, generator=g), torch.randn(1, 64, 4, 4, generator=g).to(torch.bfloat16))


class StandInPredictor(SAM2VideoPredictor):
    """The session code with stand-ins for the image encoder and the tracking step."""

    def __init__(self) -> None:
        super().__init__(get_config("sam2.1_hiera_t", image_size=128))
        self.pos_enc = torch.zeros(1, 64, 4, 4)
        self.memory_reads = 0
        self.prev_logits_seen = []

    def _get_image_feature(self, inference_state, frame_idx, batch_size):
        return None, None, [], [], []

    def _run_memory_encoder(self, inference_state, frame_idx, batch_size, high_res_masks, object_score_logits,
                            is_mask_from_pts):
        return expected_outputs(frame_idx)[3], self._shared_maskmem_pos_enc(inference_state, [self.pos_enc])

    def track_step(self, frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds,
                   feat_sizes, point_inputs, mask_inputs, output_dict, num_frames, track_in_reverse=False,
                   run_mem_encoder=True, prev_sam_mask_logits=None, memory_cache=None):
        if not is_init_cond_frame:
            # read what the real tracker reads, and check it is what was stored
            selected = dict(output_dict["cond_frame_outputs"])
            for _, t, out in self._memory_frames(frame_idx, output_dict, selected, {}, track_in_reverse):
                if t not in selected:
                    assert torch.equal(out["maskmem_features"], expected_outputs(t)[3]), t
                    self.memory_reads += 1
            step = 1 if track_in_reverse else -1
            for d in range(1, self.max_obj_ptrs_in_encoder):
                out = output_dict["non_cond_frame_outputs"].get(frame_idx + step * d)
                if out is not None:
                    out["obj_ptr"].sum()
        if prev_sam_mask_logits is not None:
            self.prev_logits_seen.append((frame_idx, prev_sam_mask_logits))
        masks, ptr, score, memory = expected_outputs(frame_idx)
        return FrameOutput(pred_masks=masks, obj_ptr=ptr, object_score_logits=score,
                           maskmem_features=memory if run_mem_encoder else None,
                           maskmem_pos_enc=[self.pos_enc] if run_mem_encoder else None)


@pytest.fixture(scope="module")
def stand_in():
    torch.manual_seed(0)
    return StandInPredictor().eval()


def _video(n: int):
    tiny = np.zeros((8, 8, 3), np.uint8)
    return [tiny] * n  # one array, n references: the frames cost nothing


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_20000_frames_flat_memory_and_frame_10_read_back(stand_in, tmp_path):
    n = 20_000
    state = stand_in.init_state(_video(n), spill_dir=str(tmp_path))
    stand_in.add_new_points_or_box(state, 0, 1, points=[[4, 4]], labels=[1])
    tracemalloc.start()
    try:
        samples = {}
        for frame_idx, _, masks in stand_in.propagate_in_video(state):
            assert masks.shape == (1, 1, 8, 8)
            if frame_idx in (2_000, n - 1):
                gc.collect()
                state.spill.flush()
                samples[frame_idx] = (tracemalloc.get_traced_memory()[0], _rss_bytes())
    finally:
        tracemalloc.stop()
    per_frame_py = (samples[n - 1][0] - samples[2_000][0]) / (n - 1 - 2_000)
    per_frame_rss = (samples[n - 1][1] - samples[2_000][1]) / (n - 1 - 2_000)
    kept_bytes = sum(t.numel() * t.element_size() for t in expected_outputs(0))
    # what RAM would grow by per frame if outputs were kept: 5.4 KB; Python's bookkeeping
    # (the frame's entries in the session's dicts) is ~0.2 KB
    assert per_frame_py < 400, f"{per_frame_py:.0f} bytes of Python objects per tracked frame"
    assert per_frame_rss < kept_bytes / 4, f"resident memory grows {per_frame_rss:.0f} bytes per frame"
    assert stand_in.memory_reads > 6 * (n - 10)
    bank = state.output_dict_per_obj[0].non_cond_frame_outputs
    assert bank.num_in_ram <= stand_in.tracking_window()
    assert state.spill.records_written >= n - 1 - stand_in.tracking_window()

    # frame 10's outputs read back from disk, bit for bit
    out = bank[10]
    for got, want in zip((out.pred_masks, out.obj_ptr, out.object_score_logits, out.maskmem_features),
                         expected_outputs(10)):
        assert got.dtype == want.dtype and torch.equal(got, want)
    # a correction on frame 10 decodes with frame 10's previous mask logits
    stand_in.prev_logits_seen.clear()
    stand_in.add_new_points_or_box(state, 10, 1, points=[[2, 2]], labels=[0], clear_old_points=False)
    (frame, logits), = stand_in.prev_logits_seen
    assert frame == 10 and torch.equal(logits, expected_outputs(10)[0].clamp(-32, 32))
    folder = state.spill.folder
    state.close()
    assert not os.path.exists(folder)


def test_spill_window_keeps_only_recent_frames_in_ram(stand_in, tmp_path):
    state = stand_in.init_state(_video(60), spill_dir=str(tmp_path))
    stand_in.add_new_points_or_box(state, 0, 1, points=[[4, 4]], labels=[1])
    stand_in.add_new_points_or_box(state, 0, 2, points=[[6, 6]], labels=[1])
    list(stand_in.propagate_in_video(state))
    window = stand_in.tracking_window()
    for obj_idx in (0, 1):
        bank = state.output_dict_per_obj[obj_idx].non_cond_frame_outputs
        assert sorted(bank) == list(range(1, 60)) and bank.num_in_ram == window
        assert torch.equal(bank[5].pred_masks, expected_outputs(5)[0])
    # reverse pass over spilled frames: the memories it reads are the reverse pass's own
    reads = stand_in.memory_reads
    list(stand_in.propagate_in_video(state, start_frame_idx=59, reverse=True))
    assert stand_in.memory_reads > reads
    assert state.frames_tracked_per_obj[0][3]["reverse"] is True
    state.close()


def test_spill_folder_goes_with_the_session(stand_in, tmp_path):
    state = stand_in.init_state(_video(40), spill_dir=str(tmp_path), frames_in_ram=2)
    stand_in.add_new_points_or_box(state, 0, 1, points=[[4, 4]], labels=[1])
    list(stand_in.propagate_in_video(state))
    state.spill.flush()
    folder = state.spill.folder
    data = os.path.join(folder, "outputs.bin")
    assert os.path.getsize(data) > 0 and state.spill.bytes_written == os.path.getsize(data)
    stand_in.reset_state(state)  # results gone: so is their disk space
    assert os.path.getsize(data) == 0
    stand_in.add_new_points_or_box(state, 0, 1, points=[[4, 4]], labels=[1])
    list(stand_in.propagate_in_video(state))
    del state
    gc.collect()  # garbage collection deletes the folder too
    assert not os.path.exists(folder)
    # with a context manager
    with stand_in.init_state(_video(5), spill_dir=str(tmp_path)) as state:
        folder = state.spill.folder
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)


def test_crash_leftovers_are_removed_at_start_up(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f"session-{dead.pid}-abcdef"
    left.mkdir()
    (left / "outputs.bin").write_bytes(b"x" * 100)
    alive = tmp_path / f"session-{os.getpid()}-0123456"
    alive.mkdir()
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    assert spill_paths.remove_stale_sessions(str(tmp_path)) == 1
    assert not left.exists() and alive.exists() and unrelated.exists()
    # a new store does it once per spill root and process
    left.mkdir()
    spill_paths._cleaned_roots.discard(str(tmp_path))
    SpillStore(str(tmp_path)).close()
    assert not left.exists()


def test_unusable_spill_folder_is_a_clear_error(stand_in, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SpillError, match=r"cannot use the spill folder .*a-file.*spill_dir="):
        stand_in.init_state(_video(5), spill_dir=str(blocker / "spill"))
    # the same video opens fine elsewhere, or with everything in RAM
    assert stand_in.init_state(_video(5), spill=False).spill is None
    with pytest.raises(ValueError, match="frames_in_ram"):
        stand_in.init_state(_video(5), frames_in_ram=-1)


def test_full_disk_is_a_clear_error_and_the_session_goes_on(stand_in, tmp_path, monkeypatch):
    n = 50
    state = stand_in.init_state(_video(n), spill_dir=str(tmp_path), frames_in_ram=1)
    stand_in.add_new_points_or_box(state, 0, 1, points=[[4, 4]], labels=[1])
    real_pwritev = os.pwritev
    calls = []

    def full_after_ten(fd, buffers, offset):
        calls.append(offset)
        if len(calls) > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwritev(fd, buffers, offset)

    monkeypatch.setattr(spill_store.os, "pwritev", full_after_ten)
    seen = []
    with pytest.raises(SpillError, match="No space left on device.*keeps its outputs in RAM"):
        for frame_idx, _, _ in stand_in.propagate_in_video(state):
            seen.append(frame_idx)
            state.spill.flush()
    assert 10 < len(seen) < n
    # the session goes on: tracking again works, every frame's outputs are there (RAM or disk)
    assert [f for f, _, _ in stand_in.propagate_in_video(state)] == list(range(n))
    bank = state.output_dict_per_obj[0].non_cond_frame_outputs
    for t in (1, 5, 20, n - 1):
        assert torch.equal(bank[t].pred_masks, expected_outputs(t)[0])
    state.close()
