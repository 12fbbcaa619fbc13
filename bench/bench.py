"""Benchmark harness: encoder, click, segment-everything and video tracking times and peak memory.

Each model is measured in its own subprocess so that peak RSS (``ru_maxrss``) belongs to
that model alone. Weights are seeded random (same cost as the real ones).

    python -m bench.bench                                  # tiny and large, image measures
    python -m bench.bench --models sam2.1_hiera_t --what image,amg,video
    python -m bench.bench --threads 2 --repeat 5 --json results.json
    python -m bench.bench --models sam2.1_hiera_t,edgetam --what image,video --precision exact,fast
    python -m bench.bench --models sam2.1_hiera_t --what video --objects 1,3   # the 3-object row too
    python -m bench.bench --models sam2.1_hiera_t,edgetam --what video --precision fast --rounds 5

With ``--rounds N`` every column is measured N times, the columns taking turns (the order
reversed every other round, so a steady drift of the machine cancels), and the table gives
the median of the rounds. With both EdgeTAM and SAM 2.1 tiny measured, the ratio of their
video seconds per frame is printed per round and as a median: issue #15 asks EdgeTAM fast
for at most 0.25x of tiny fast, and on a VM that drifts 10-15 % the ratio of one round is
not enough to tell.

Every (model, precision) pair is one column of the printed table; with EdgeTAM among the
models the EdgeTAM reference's documented figures are a column too. Video tracking is
measured with one object unless ``--objects`` says otherwise.

``*_cpu_s`` measures are CPU-seconds of the process (all threads): on a machine shared with
other work they stretch less than wall times, but they do stretch (waiting threads spin),
so compare models within one run only. EdgeTAM's reference
(facebookresearch/EdgeTAM) needs timm, which cannot be installed beside the CPU torch used
here; its numbers measured with this harness on an idle 2-core machine are printed next
to ours (``EDGETAM_REFERENCE``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

REPO = Path(__file__).resolve().parents[1]


# facebookresearch/EdgeTAM, float32, 2 threads, this harness (issue #15): set_image, one
# click, video seconds per frame with one object.
EDGETAM_REFERENCE = {"set_image_s": 0.54, "click_ms": 83.0, "video_1obj_s_per_frame": 1.30}


def timed(fn: Callable, repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median ``clock`` time of ``repeat`` calls (after one warm-up call): wall time, or with
    ``time.process_time`` this process's CPU-seconds (all threads)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2]


def cpu_timed(fn: Callable, repeat: int) -> float:
    """Median CPU-seconds of this process per call (see ``timed``)."""
    return timed(fn, repeat, clock=time.process_time)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2)


def test_image(height: int = 1200, width: int = 1800):
    import numpy as np

    media = REPO.parent / "shared" / "media" / "truck.jpg"
    if media.exists():
        from sam2.media.images import load_image

        img = load_image(str(media))
        if img.shape[:2] == (height, width):
            return img
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)


def measure_one(model: str, what: List[str], repeat: int, device: str, precision: str,
                objects=(1,)) -> Dict[str, float]:
    """Runs inside the child process."""
    import numpy as np
    import torch

    from sam2.build_sam import build_sam2
    from sam2.testing import write_random_checkpoint

    results: Dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "model.pt"), model, seed=0)
        t0 = time.perf_counter()
        sam = build_sam2(model, ckpt, device=device, precision=precision)
        results["build_s"] = time.perf_counter() - t0

    if "image" in what:
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        image = test_image()
        predictor = SAM2ImagePredictor(sam)
        with torch.inference_mode():
            results["set_image_s"] = timed(lambda: predictor.set_image(image), repeat)
            results["set_image_cpu_s"] = cpu_timed(lambda: predictor.set_image(image), repeat)
            point, label = np.array([[900, 600]]), np.array([1])
            results["click_ms"] = 1000 * timed(lambda: predictor.predict(point, label, multimask_output=True),
                                               max(repeat, 10))
    if "amg" in what:
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        image = test_image()
        for pps in (32, 16):
            gen = SAM2AutomaticMaskGenerator(sam, points_per_side=pps)
            with torch.inference_mode():
                t0 = time.perf_counter()
                masks = gen.generate(image)
                results[f"amg_pps{pps}_s"] = time.perf_counter() - t0
            results[f"amg_pps{pps}_count"] = len(masks)
    if "video" in what:
        from bench.video_bench import measure_video

        results.update(measure_video(model, device, precision, objects=objects))
    if "longvideo" in what:
        from bench.video_bench import measure_long_clip_memory

        results.update(measure_long_clip_memory(model, device=device, precision=precision))
    results["peak_rss_gib"] = peak_rss_gib()
    return results


def _run_child(model: str, precision: str, args: argparse.Namespace):
    """Measure one (model, precision) in a fresh subprocess; its results, or None."""
    cmd = [sys.executable, "-m", "bench.bench", "--child", model, "--what", args.what, "--repeat", str(args.repeat),
           "--threads", str(args.threads), "--device", args.device, "--precision", precision,
           "--objects", args.objects]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        print(f"{model} {precision}: failed\n{out.stderr[-2000:]}")
        return None
    return json.loads(line[len("RESULT "):])


def _median_of(results: List[Dict[str, float]]) -> Dict[str, float]:
    keys = {k for r in results for k in r}
    return {k: statistics.median(r[k] for r in results if k in r) for k in keys}


def _column(model: str, precision: str, named: bool) -> str:
    """A table column's name: the model, and its precision when several are measured."""
    return f"{model} {precision}" if named else model


def _print_video_ratio(rounds: List[Dict[str, Dict[str, float]]], model: str, base: str, precision: str,
                       named: bool) -> None:
    """Per round, ``model``'s video seconds per frame over ``base``'s (the pair measured
    next to each other), and their median."""
    key = "video_1obj_s_per_frame"
    ours, theirs = _column(model, precision, named), _column(base, precision, named)
    ratios = [r[ours][key] / r[theirs][key] for r in rounds
              if key in r.get(ours, {}) and key in r.get(theirs, {})]
    if ratios:
        print(f"{model} / {base} video s/frame, {precision}: per round "
              + " ".join(f"{x:.3f}" for x in ratios) + f"; median {statistics.median(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="sam2.1_hiera_t,sam2.1_hiera_l")
    parser.add_argument("--what", default="image", help="comma list of image, amg, video, longvideo")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="exact",
                        help="comma list of exact, fast, auto (see sam2.precision): one column each")
    parser.add_argument("--objects", default="1", help="comma list of object counts for video tracking")
    parser.add_argument("--rounds", type=int, default=1, help="measure every column this many times, in turns")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    objects = tuple(int(n) for n in args.objects.split(","))
    if args.child:
        res = measure_one(args.child, args.what.split(","), args.repeat, args.device, args.precision, objects)
        print("RESULT " + json.dumps(res))
        return

    import torch

    print(f"torch {torch.__version__}, threads {args.threads or torch.get_num_threads()}, device {args.device}, "
          f"precision {args.precision}, "
          f"cpu count {os.cpu_count()}")
    precisions = args.precision.split(",")
    columns = [(model, precision) for model in args.models.split(",") for precision in precisions]
    named = len(precisions) > 1
    rounds: List[Dict[str, Dict[str, float]]] = []  # per round: column -> results
    for r in range(max(1, args.rounds)):
        rounds.append({})
        for model, precision in (columns if r % 2 == 0 else columns[::-1]):
            column = _column(model, precision, named)
            result = _run_child(model, precision, args)
            if result is None:
                continue
            rounds[r][column] = result
            print(f"{column}: done" + (f" (round {r + 1})" if args.rounds > 1 else ""), flush=True)
    names = [_column(model, precision, named) for model, precision in columns]
    table = {c: _median_of([r[c] for r in rounds if c in r]) for c in names if any(c in r for r in rounds)}
    if "edgetam" in args.models.split(","):
        table["edgetam reference (documented, exact)"] = dict(EDGETAM_REFERENCE)
    keys = sorted({k for r in table.values() for k in r})
    print("| measure | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{table[m].get(k, float('nan')):.3f}" for m in table) + " |")
    for precision in precisions:
        _print_video_ratio(rounds, "edgetam", "sam2.1_hiera_t", precision, named)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=2)


if __name__ == "__main__":
    main()
