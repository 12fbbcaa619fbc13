"""What "Find" costs per image: the detector next to SAM 2.1 tiny's set_image + box decode.

Run it on a quiet machine (nothing else busy; the load average is printed each round)::

    python -m bench.find_bench                  # truck.jpg 1800x1200, 10 boxes, 3 rounds, 2 threads
    python -m bench.find_bench --boxes 100 --rounds 5 --short-side 512

Both models have random weights and the real architectures, hence the real cost per image:
Grounding DINO as ``IDEA-Research/grounding-dino-tiny`` (Swin-T, BERT-base, 900 queries,
800 px short side unless ``--short-side``), SAM 2.1 tiny once with ``precision="exact"`` and
once with ``"auto"`` (bfloat16 image encoder only where the CPU has native bfloat16; the
header says which it resolved to). Each round times the three in turn on the same image,
so a machine whose speed drifts affects them alike. What Find adds to a click session is
the detector column; SAM 2's columns are what segmenting the boxes costs (the app reuses
the session's encoding, so on an image already clicked only "decode" is paid).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench import test_image

REPO = Path(__file__).resolve().parents[1]


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--boxes", type=int, default=10, help="boxes segmented in one batched decode")
    parser.add_argument("--query", default="car, person, truck, wheel")
    parser.add_argument("--short-side", type=int, default=None, help="detector input short side (800)")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from sam2.build_sam import build_sam2
    from sam2.find import Detection, TransformersDetector, find_objects, parse_query
    from sam2.find.testing import random_grounding_dino
    from sam2.precision import resolve_compute_dtype
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from sam2.testing import write_random_checkpoint

    image = test_image()
    h, w = image.shape[:2]
    labels = parse_query(args.query)
    model, processor = random_grounding_dino(labels, size="tiny")
    detector = TransformersDetector(model, processor, short_side=args.short_side)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "t.pt"), "sam2.1_hiera_t")
        sam = {p: SAM2ImagePredictor(build_sam2("sam2.1_hiera_t", ckpt, device="cpu", precision=p))
               for p in ("exact", "auto")}
    rng = np.random.default_rng(0)
    x0, y0 = rng.uniform(0, w * 0.8, args.boxes), rng.uniform(0, h * 0.8, args.boxes)
    boxes = [Detection((a, b, a + w * 0.15, b + h * 0.15), "car", 0.9) for a, b in zip(x0, y0)]

    auto = str(resolve_compute_dtype("auto", "cpu")).replace("torch.", "")
    print(f"image {w}x{h}, {args.threads} threads, {args.boxes} boxes; detector grounding-dino-tiny "
          f"architecture, short side {args.short_side or 800}; SAM 2.1 tiny exact (float32) and auto "
          f"({auto} here)")
    rows = {"detector": [], **{f"{p} {step}": [] for p in sam for step in ("set_image", "decode")}}
    with torch.inference_mode():
        detector.detect(image, labels)  # warm-up: first calls allocate
        for p in sam.values():
            find_objects(p, image, boxes=boxes, threshold=0.0)
        for r in range(args.rounds):
            rows["detector"].append(_seconds(lambda: detector.detect(image, labels)))
            for name, p in sam.items():
                rows[f"{name} set_image"].append(_seconds(lambda: p.set_image(image)))
                rows[f"{name} decode"].append(_seconds(
                    lambda: find_objects(p, image, boxes=boxes, threshold=0.0, image_is_set=True)))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rows.items())
                  + f"; load average {os.getloadavg()[0]:.1f}")
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\nmedian of {args.rounds} rounds, seconds per image:")
    print(f"  {'detector':36s} {med['detector']:6.2f}")
    for name in sam:
        total = med[f"{name} set_image"] + med[f"{name} decode"]
        print(f"  {'SAM 2.1 tiny ' + name + ' set_image+decode':36s} {total:6.2f}   (set_image "
              f"{med[f'{name} set_image']:.2f} + decode of {args.boxes} boxes {med[f'{name} decode']:.2f}); "
              f"detector / SAM 2 = {med['detector'] / total:.2f}")

if __name__ == "__main__":
    main()
