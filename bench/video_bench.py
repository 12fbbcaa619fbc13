"""Video tracking measures for bench.py: seconds per frame (1 and 3 objects) and memory.

The clip is synthetic 720p (moving ellipses on a gradient) so the benchmark needs no media.
Steady state = frames tracked once the memory bank is full (7 memories).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from typing import Dict, Iterator, List

import numpy as np


def iter_synthetic_clip(num_frames: int, height: int = 720, width: int = 1280) -> Iterator[np.ndarray]:
    """Frames one at a time: a textured gradient (so frames compress like real footage, not
    like flat colour) with three moving ellipses."""
    yy, xx = np.mgrid[0:height, 0:width]
    texture = np.random.default_rng(0).integers(-24, 24, size=(height, width, 1))
    base = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 90)], axis=-1) + texture
    base = np.clip(base, 0, 255).astype(np.uint8)
    for t in range(num_frames):
        f = base.copy()
        for k, colour in enumerate(((230, 40, 40), (40, 200, 60), (40, 80, 230))):
            cx, cy = 250 + 350 * k + 6 * t, 360 + int(80 * np.sin(0.2 * t + k))
            f[((xx - cx) / 110.0) ** 2 + ((yy - cy) / 80.0) ** 2 <= 1.0] = colour
        yield f


def synthetic_clip(num_frames: int, height: int = 720, width: int = 1280) -> List[np.ndarray]:
    return list(iter_synthetic_clip(num_frames, height, width))


def _rss_gib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / (1024 ** 2)
    return float("nan")


def session_state_bytes(state) -> int:
    """Bytes of the tensors a session keeps per object and frame (the part that grows)."""
    import torch

    seen, total = set(), 0

    def add(t):
        nonlocal total
        if isinstance(t, torch.Tensor):
            storage = t.untyped_storage()  # views of one tensor (expand) count once
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
        elif isinstance(t, (list, tuple)):
            for x in t:
                add(x)
        elif isinstance(t, dict):
            for x in t.values():
                add(x)

    for bank in state.output_dict_per_obj.values():
        for outputs in (bank.cond_frame_outputs, bank.non_cond_frame_outputs):
            for out in outputs.values():
                for name in ("pred_masks", "obj_ptr", "object_score_logits", "maskmem_features", "maskmem_pos_enc"):
                    add(getattr(out, name, None))
    return total


def _track(predictor, frames, num_objects: int, num_track: int) -> List[float]:
    import torch

    state = predictor.init_state(frames)
    for k in range(num_objects):
        cx, cy = 250 + 350 * k, 360 + int(80 * np.sin(k))
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=k + 1,
                                        points=np.array([[cx, cy]], np.float32), labels=np.array([1], np.int32))
    times, cpu_times = [], []
    with torch.inference_mode():
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in predictor.propagate_in_video(state, max_frame_num_to_track=num_track):
            t1, c1 = time.perf_counter(), time.process_time()
            times.append(t1 - t0)
            cpu_times.append(c1 - c0)
            t0, c0 = t1, c1
    _track.cpu_times = cpu_times  # CPU-seconds per frame, read by measure_video
    return times


def measure_video(model: str, device: str = "cpu", precision: str = "exact", steady_frames: int = 6,
                  objects=(1, 3)) -> Dict[str, float]:
    """Median wall seconds (and CPU-seconds) per steady-state frame, for 1 and 3 objects."""
    from sam2.build_sam import build_sam2_video_predictor
    from sam2.testing import write_random_checkpoint

    out: Dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "m.pt"), model, seed=0)
        predictor = build_sam2_video_predictor(model, ckpt, device=device, precision=precision)
    warm = 8  # frame 0 (prompted) + 7 frames to fill the memory bank
    frames = synthetic_clip(warm + steady_frames)
    for n in objects:
        times = _track(predictor, frames, n, warm + steady_frames - 1)
        steady = sorted(times[warm:])
        out[f"video_{n}obj_s_per_frame"] = steady[len(steady) // 2]
        # CPU-seconds of this process per frame (all threads): on a machine shared with
        # other work this stretches less than wall time (but waiting threads spin)
        cpu = sorted(_track.cpu_times[warm:])
        out[f"video_{n}obj_cpu_s_per_frame"] = cpu[len(cpu) // 2]
    if len(objects) > 1 and "video_1obj_s_per_frame" in out:
        out[f"video_{objects[-1]}obj_over_1obj"] = out[f"video_{objects[-1]}obj_s_per_frame"] / out["video_1obj_s_per_frame"]
    return out


def measure_long_clip_memory(model: str, seconds: int = 60, fps: int = 30, track: int = 24,
                             device: str = "cpu", precision: str = "exact") -> Dict[str, float]:
    """Peak RSS for a long 720p clip (an mp4 file) with one object.

    Tracking every frame of a minute would take hours on a CPU, so ``track`` frames are
    tracked and the per-frame growth of the session state is reported, with the
    extrapolation to the whole clip.
    """
    import torch

    from sam2.build_sam import build_sam2_video_predictor
    from sam2.media.mp4 import write_mp4
    from sam2.testing import write_random_checkpoint

    out: Dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long.mp4")
        write_mp4(path, iter_synthetic_clip(seconds * fps), fps=fps)  # streamed: never the whole raw clip
        ckpt = write_random_checkpoint(os.path.join(tmp, "m.pt"), model, seed=0)
        predictor = build_sam2_video_predictor(model, ckpt, device=device, precision=precision)
        base = _rss_gib()
        state = predictor.init_state(path)
        out["long_clip_frames"] = state.num_frames
        out["long_clip_after_load_gib"] = _rss_gib()
        out["long_clip_stored_frames_gib"] = state.images.stored_bytes / 1024 ** 3
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=np.array([[250, 360]], np.float32),
                                        labels=np.array([1], np.int32))
        with torch.inference_mode():
            rss = []
            for i, _ in enumerate(predictor.propagate_in_video(state, max_frame_num_to_track=track)):
                rss.append(_rss_gib())
        per_frame_rss = (rss[-1] - rss[len(rss) // 2]) / max(1, len(rss) - 1 - len(rss) // 2)
        out["long_clip_rss_growth_mib_per_frame"] = per_frame_rss * 1024
        per_frame = session_state_bytes(state) / len(rss) / 1024 ** 3
        out["long_clip_state_mib_per_frame"] = per_frame * 1024
        out["long_clip_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2)
        out["long_clip_extrapolated_peak_gib"] = max(out["long_clip_peak_rss_gib"],
                                                     rss[-1] + per_frame * (state.num_frames - track))
        out["model_and_runtime_gib"] = base
    return out
