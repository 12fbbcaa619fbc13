"""Weight-only int8 (``precision="int8"``) against float32: weight memory, resident memory,
speed and mask agreement, for SAM 2.1 tiny and large (seeded random weights: the shapes are
what cost memory and time).

    python -m bench.int8_bench                                    # tiny and large, everything
    python -m bench.int8_bench --models sam2.1_hiera_t --rounds 3 --video-frames 6
    python -m bench.int8_bench --what memory                      # the byte table only (seconds)

Tables:
* weight memory: the bytes of every parameter and buffer with float32 weights, with every
  float tensor in bfloat16, and with int8 linear/convolution weights (``sam2.modeling.int8``);
* resident memory: RSS of a fresh process after building the model (and its peak while
  building), float32 against int8;
* speed: ``set_image`` + one click (wall and CPU-seconds), and video seconds per frame
  (one object, after the warm-up frames), float32 and int8 in alternation in one process
  (ABBA rounds, so a steady drift of a shared machine cancels); the ratio int8 / float32
  per round and its median. On a machine shared with other work, compare CPU-seconds with
  ``--threads 1``: with two threads, each extra parallel region (one per dequantised
  weight) waits for a descheduled thread, which stretches int8's wall time only;
* agreement: IoU of every mask against float32 on the parity image (truck, the parity calls)
  and on a tracked synthetic clip.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]

MODELS = "sam2.1_hiera_t,sam2.1_hiera_l"
# the parity calls on the truck image (tests/data/parity/cases.json, truck_prompts), without
# the one that feeds an earlier call's mask back
CLICKS = [dict(point_coords=[[500, 375]], point_labels=[1], multimask_output=True),
          dict(box=[425, 600, 700, 875], multimask_output=False),
          dict(box=[75, 275, 1725, 850], point_coords=[[575, 750], [1375, 550]], point_labels=[0, 1],
               multimask_output=False),
          dict(point_coords=[[900, 500]], point_labels=[1], multimask_output=True)]


def _mb(n: int) -> float:
    return n / 1e6


def weight_memory(model_name: str) -> Dict[str, float]:
    """MB of the model's tensors: float32, all floats in bfloat16, int8 weights."""
    import torch

    from sam2.configs import get_config
    from sam2.modeling.int8 import quantize_model_
    from sam2.modeling.sam2_base import SAM2Base

    model = SAM2Base(get_config(model_name))
    tensors = list(model.parameters()) + list(model.buffers())
    bf16 = sum(t.numel() * (2 if t.is_floating_point() else t.element_size()) for t in tensors)
    params = sum(t.numel() for t in model.parameters())
    summary = quantize_model_(model)
    assert summary.bytes_before == sum(t.numel() * t.element_size() for t in tensors)
    del model
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return {"params_M": params / 1e6, "fp32_MB": _mb(summary.bytes_before), "bf16_MB": _mb(bf16),
            "int8_MB": _mb(summary.bytes_after), "int8_over_fp32": summary.ratio,
            "int8_layers": summary.layers}


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def resident_child(model_name: str, precision: str) -> Dict[str, float]:
    """Runs in a fresh process: RSS before and after building (random weights, no file)."""
    import logging

    import torch

    logging.disable(logging.WARNING)  # "no checkpoint given" is the point here
    torch.set_num_threads(1)
    from sam2.build_sam import build_sam2

    base = _rss_mb()
    model = build_sam2(model_name, None, device="cpu", precision=precision)
    assert model is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_model_MB": _rss_mb() - base, "peak_model_MB": peak - base}


def resident(model_name: str, precision: str) -> Dict[str, float]:
    cmd = [sys.executable, __file__, "--child", model_name, "--precision", precision]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pair(model_name: str):
    """Float32 and int8 image models with the same (seeded random) weights."""
    import torch

    from sam2.build_sam import build_sam2
    from sam2.modeling.int8 import quantize_model_

    torch.manual_seed(0)
    exact = build_sam2(model_name, None, device="cpu", precision="exact")
    torch.manual_seed(0)
    int8 = build_sam2(model_name, None, device="cpu", precision="exact")
    quantize_model_(int8)
    return {"exact": exact, "int8": int8}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = (a & b).sum(axis=(-1, -2))
    union = (a | b).sum(axis=(-1, -2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _image():
    from bench.bench import test_image

    return test_image()


def _click(predictor, call: dict):
    kwargs = {k: (np.array(v) if isinstance(v, list) else v) for k, v in call.items()}
    return predictor.predict(**kwargs)


def image_speed_and_iou(model_name: str, rounds: int) -> Dict[str, object]:
    import torch

    from sam2.sam2_image_predictor import SAM2ImagePredictor

    image = _image()
    predictors = {k: SAM2ImagePredictor(m) for k, m in _pair(model_name).items()}
    times: Dict[str, List[float]] = {"exact": [], "int8": []}
    cpu: Dict[str, List[float]] = {"exact": [], "int8": []}
    masks: Dict[str, list] = {}
    with torch.inference_mode():
        for r in range(rounds):
            for name in (("exact", "int8") if r % 2 == 0 else ("int8", "exact")):
                p = predictors[name]
                t0, c0 = time.perf_counter(), time.process_time()
                p.set_image(image)
                _click(p, CLICKS[0])
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                if r == 0:
                    masks[name] = [_click(p, c)[0] for c in CLICKS]
    ious = np.concatenate([_iou(a, b).ravel() for a, b in zip(masks["exact"], masks["int8"])])
    return {"set_image_click_s": times, "set_image_click_cpu_s": cpu, "image_iou_min": float(ious.min()), "image_iou_mean": float(ious.mean())}


def video_speed_and_iou(model_name: str, frames: int, warm: int) -> Dict[str, object]:
    """Seconds per frame after ``warm`` frames (one object), float32 and int8 taking turns
    frame by frame on two sessions of the same clip; IoU of their masks per frame."""
    import torch

    from bench.video_bench import synthetic_clip
    from sam2.build_sam import build_sam2_video_predictor
    from sam2.modeling.int8 import quantize_model_

    clip = synthetic_clip(warm + frames)
    torch.manual_seed(0)
    exact = build_sam2_video_predictor(model_name, None, device="cpu", precision="exact")
    torch.manual_seed(0)
    int8 = build_sam2_video_predictor(model_name, None, device="cpu", precision="exact")
    quantize_model_(int8)
    runs = {}
    for name, predictor in (("exact", exact), ("int8", int8)):
        state = predictor.init_state(clip)
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=np.array([[250, 360]], np.float32),
                                        labels=np.array([1], np.int32))
        runs[name] = predictor.propagate_in_video(state)
    times: Dict[str, List[float]] = {"exact": [], "int8": []}
    ious = []
    with torch.inference_mode():
        for i in range(warm + frames):
            out = {}
            for name in (("exact", "int8") if i % 2 == 0 else ("int8", "exact")):
                t0 = time.perf_counter()
                _, _, logits = next(runs[name])
                if i >= warm:
                    times[name].append(time.perf_counter() - t0)
                out[name] = (logits > 0).numpy()[:, 0]
            ious.append(float(_iou(out["exact"], out["int8"]).min()))
    return {"video_s_per_frame": times, "video_iou_min": min(ious), "video_iou_mean": float(np.mean(ious))}


def _median_ratio(times: Dict[str, List[float]]) -> str:
    ratios = [b / a for a, b in zip(times["exact"], times["int8"])]
    return (f"{statistics.median(times['exact']):.2f} / {statistics.median(times['int8']):.2f} s, "
            f"int8/fp32 per round {', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--what", default="memory,resident,image,video")
    parser.add_argument("--rounds", type=int, default=2, help="set_image + click rounds per precision")
    parser.add_argument("--video-frames", type=int, default=3, help="frames timed after the warm-up")
    parser.add_argument("--video-warm", type=int, default=8, help="frames before timing (memory bank full at 8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="exact", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(resident_child(args.child, args.precision)))
        return
    import torch

    torch.set_num_threads(args.threads)
    what = args.what.split(",")
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs visible "
          f"(load average {os.getloadavg()[0]:.1f})")
    for model_name in args.models.split(","):
        print(f"\n== {model_name}")
        if "memory" in what:
            m = weight_memory(model_name)
            print(f"weights ({m['params_M']:.1f} M parameters): fp32 {m['fp32_MB']:.0f} MB | bf16 {m['bf16_MB']:.0f} MB"
                  f" | int8 {m['int8_MB']:.0f} MB ({m['int8_over_fp32']:.3f} of fp32, {m['int8_layers']} layers int8)")
        if "resident" in what:
            for precision in ("exact", "int8"):
                r = resident(model_name, precision)
                print(f"resident after build, {precision:5s}: {r['rss_model_MB']:.0f} MB "
                      f"(peak while building {r['peak_model_MB']:.0f} MB)")
        if "image" in what:
            r = image_speed_and_iou(model_name, args.rounds)
            print(f"set_image + click, fp32 / int8: {_median_ratio(r['set_image_click_s'])}")
            print(f"  the same in CPU-seconds: {_median_ratio(r['set_image_click_cpu_s'])}")
            print(f"image masks IoU vs fp32 ({len(CLICKS)} parity calls): min {r['image_iou_min']:.4f}, "
                  f"mean {r['image_iou_mean']:.4f}")
        if "video" in what:
            r = video_speed_and_iou(model_name, args.video_frames, args.video_warm)
            print(f"video s/frame (1 object, after {args.video_warm} frames), fp32 / int8: "
                  f"{_median_ratio(r['video_s_per_frame'])}")
            print(f"video masks IoU vs fp32 per frame: min {r['video_iou_min']:.4f}, mean {r['video_iou_mean']:.4f}")


if __name__ == "__main__":
    main()
