"""EdgeTAM exact against the EdgeTAM reference: seconds per tracked frame, paired and alternating.

Issue #25 asks EdgeTAM exact (the reference's arithmetic) to track at <= 0.8x the
reference's time per frame. The reference (facebookresearch/EdgeTAM) is another package
named ``sam2``, so it cannot share a process with ours; instead two persistent worker
processes (ours, and the reference in the shared oracle's venv, ``../shared/oracle``) each
build their predictor once, and the parent asks them for a turn of tracking in alternation
(ABBA, so a steady drift of a shared machine cancels). Only one worker computes at a time:
the other waits on its pipe. Each turn opens the bedroom clip (24 frames,
``../shared/media/bedroom``), prompts the same objects on frame 0 and tracks forward; the
first 8 tracked frames (memory bank filling) are left out, the rest give the turn's median
wall seconds and median CPU-seconds of the process per frame (on a loaded machine, with
``--threads 1``, the CPU-seconds are the steadier measure: a waiting process costs none).

    python -m bench.edgetam_vs_reference --oracle /work/oracle-edgetam --rounds 3
    python -m bench.edgetam_vs_reference --oracle OUT --objects 3 --threads 2

``--oracle`` is the folder that ``../shared/oracle/setup.sh`` filled (its ``venv`` and
``edgetam-path``). Both sides load the same seeded random checkpoint (the parity fill rule,
seed 3), float32 on the CPU; ours runs ``precision="exact"`` unless ``--precision`` says
otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLIP = SHARED / "media" / "bedroom"
POINTS = [(210, 350), (400, 200), (700, 320)]
WARM_FRAMES = 8


def _track_turn(predictor, objects: int, reference: bool) -> List[float]:
    """One turn: fresh session on the clip, objects prompted on frame 0, wall seconds per
    tracked frame past the warm-up."""
    import numpy as np
    import torch

    with torch.inference_mode():
        state = predictor.init_state(video_path=str(CLIP))
        for k in range(objects):
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=k + 1,
                                            points=np.array([POINTS[k % 3]], np.float32),
                                            labels=np.array([1], np.int32))
        times, cpu, t0, c0 = [], [], time.perf_counter(), time.process_time()
        for _ in predictor.propagate_in_video(state):
            now, cnow = time.perf_counter(), time.process_time()
            times.append(now - t0)
            cpu.append(cnow - c0)
            t0, c0 = now, cnow
        if not reference:
            state.close()
    # frame 0 (the prompted frame) and the warm-up left out
    return {"times": times[WARM_FRAMES + 1:], "cpu": cpu[WARM_FRAMES + 1:]}


def worker(args: argparse.Namespace) -> None:
    """Build one side's predictor, then answer "turn" requests on stdin until "quit"."""
    import torch

    torch.set_num_threads(args.threads)
    if args.side == "reference":
        import edgetam_env  # noqa: F401  (untrained timm trunk; the checkpoint fills it)
        import make_golden  # noqa: F401  (CPU hole filling, bfloat16 memories handed on as float32)
        from sam2.build_sam import build_sam2_video_predictor

        predictor = build_sam2_video_predictor("configs/edgetam.yaml", args.ckpt, device="cpu")
    else:
        from sam2.build_sam import build_sam2_video_predictor

        predictor = build_sam2_video_predictor("edgetam", args.ckpt, device="cpu", precision=args.precision)
    _track_turn(predictor, args.objects, args.side == "reference")  # first-run costs off the clock
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "turn":
            break
        print(json.dumps(_track_turn(predictor, args.objects, args.side == "reference")), flush=True)


def _start(side: str, args: argparse.Namespace, ckpt: str) -> subprocess.Popen:
    common = ["--worker", side, "--ckpt", ckpt, "--objects", str(args.objects), "--threads", str(args.threads),
              "--precision", args.precision]
    if side == "reference":
        oracle = Path(args.oracle)
        env = dict(os.environ, PYTHONPATH=f"{oracle / 'edgetam-path'}{os.pathsep}{SHARED / 'oracle'}")
        cmd = [str(oracle / "venv" / "bin" / "python"), __file__, *common]
    else:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [sys.executable, __file__, *common]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    return proc


def _ask(proc: subprocess.Popen, request: str = "") -> Dict:
    if request:
        proc.stdin.write(request + "\n")
        proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited (code {proc.wait()})")
        if line.startswith("{"):
            return json.loads(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle", default=os.environ.get("SAM2_ORACLE", "/work/oracle-edgetam"),
                    help="the folder ../shared/oracle/setup.sh filled")
    ap.add_argument("--rounds", type=int, default=3, help="ABBA rounds (each: one turn per side)")
    ap.add_argument("--objects", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="exact")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", choices=["ours", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.side = args.worker
        worker(args)
        return

    import tempfile

    from sam2.testing import write_random_checkpoint

    with tempfile.TemporaryDirectory(prefix="edgetam-bench-") as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "edgetam.pt"), "edgetam", seed=3)
        workers = {side: _start(side, args, ckpt) for side in ("ours", "reference")}
        try:
            for proc in workers.values():  # built and warmed one after the other
                _ask(proc)
            medians: Dict[str, List[float]] = {"ours": [], "reference": []}
            cpu: Dict[str, List[float]] = {"ours": [], "reference": []}
            for r in range(args.rounds):
                order = ["ours", "reference"] if r % 2 == 0 else ["reference", "ours"]
                for side in order:
                    turn = _ask(workers[side], "turn")
                    medians[side].append(statistics.median(turn["times"]))
                    cpu[side].append(statistics.median(turn["cpu"]))
                ratio = medians["ours"][-1] / medians["reference"][-1]
                print(f"round {r + 1}: ours {medians['ours'][-1]:.3f} s/frame ({cpu['ours'][-1]:.3f} CPU-s), "
                      f"reference {medians['reference'][-1]:.3f} s/frame ({cpu['reference'][-1]:.3f} CPU-s), "
                      f"ratio {ratio:.3f} (CPU-s {cpu['ours'][-1] / cpu['reference'][-1]:.3f})", flush=True)
        finally:
            for proc in workers.values():
                if proc.poll() is None:
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
                    proc.wait(timeout=60)
    ratios = [o / r for o, r in zip(medians["ours"], medians["reference"])]
    cpu_ratios = [o / r for o, r in zip(cpu["ours"], cpu["reference"])]
    summary = {"objects": args.objects, "threads": args.threads, "precision": args.precision,
               "ours_s_per_frame": medians["ours"], "reference_s_per_frame": medians["reference"],
               "ours_cpu_s_per_frame": cpu["ours"], "reference_cpu_s_per_frame": cpu["reference"],
               "ratios": ratios, "ratio_median": statistics.median(ratios),
               "cpu_ratios": cpu_ratios, "cpu_ratio_median": statistics.median(cpu_ratios)}
    print(f"EdgeTAM {args.precision} / reference, {args.objects} object(s), {args.threads} threads: "
          f"median ratio {summary['ratio_median']:.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)}); "
          f"CPU-seconds {summary['cpu_ratio_median']:.3f} (rounds {', '.join(f'{x:.3f}' for x in cpu_ratios)})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
