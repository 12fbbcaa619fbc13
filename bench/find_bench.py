"""What "Find" costs: the detector per image next to SAM 2's ``set_image`` and the box decode.

Grounding DINO is built with the architecture of ``IDEA-Research/grounding-dino-tiny``
(Swin-T, BERT-base, 900 queries, 800 px short side) and random weights: the same work per
image as the real weights. SAM 2.1 tiny has seeded random weights too. The three are timed
in alternation, round after round, so a machine whose speed drifts (shared VMs do) affects
them alike; the per-round ratio detector / set_image is the robust number.

    python bench/find_bench.py                         # truck.jpg 1800x1200, 3 rounds, 2 threads
    python bench/find_bench.py --rounds 5 --boxes 1,10,100 --precision auto
    python bench/find_bench.py --short-side 512           # the detector's speed knob
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench import test_image  # noqa: E402


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--boxes", default="10,100", help="box counts for the batched decode")
    parser.add_argument("--precision", default="exact", help="SAM 2 precision: exact, fast or auto")
    parser.add_argument("--query", default="car, person, truck, wheel")
    parser.add_argument("--short-side", type=int, default=None,
                        help="detector input short side (default: the model's 800 px)")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from sam2.build_sam import build_sam2
    from sam2.find import Detection, TransformersDetector, find_objects, parse_query
    from sam2.find.testing import random_grounding_dino
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from sam2.testing import write_random_checkpoint

    image = test_image()
    h, w = image.shape[:2]
    labels = parse_query(args.query)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "t.pt"), "sam2.1_hiera_t")
        predictor = SAM2ImagePredictor(build_sam2("sam2.1_hiera_t", ckpt, device="cpu", precision=args.precision))
    model, processor = random_grounding_dino(labels, size="tiny")
    detector = TransformersDetector(model, processor, name="grounding-dino-tiny architecture, random weights",
                                    short_side=args.short_side)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    rng = np.random.default_rng(0)
    counts = [int(n) for n in args.boxes.split(",") if n]
    box_sets = {}
    for n in counts:
        x0 = rng.uniform(0, w * 0.8, n)
        y0 = rng.uniform(0, h * 0.8, n)
        box_sets[n] = [Detection((a, b, a + w * 0.15, b + h * 0.15), "car", 0.9) for a, b in zip(x0, y0)]

    print(f"image {w}x{h}, {args.threads} threads, load average {os.getloadavg()[0]:.1f}; "
          f"detector {params:.0f}M parameters, short side {args.short_side or 800}; "
          f"SAM 2.1 tiny precision={args.precision}")
    with torch.inference_mode():
        detector.detect(image, labels)  # warm-up
        predictor.set_image(image)
        inputs = None
        rows = {"processor (PIL resize+normalise)": [], "detector (processor + model)": [], "set_image": []}
        rows.update({f"decode {n} boxes": [] for n in counts})
        ratios = []
        for r in range(args.rounds):
            rows["processor (PIL resize+normalise)"].append(
                _time(lambda: processor(images=image, text="car .", return_tensors="pt")))
            det_s = _time(lambda: detector.detect(image, labels))
            enc_s = _time(lambda: predictor.set_image(image))
            rows["detector (processor + model)"].append(det_s)
            rows["set_image"].append(enc_s)
            ratios.append(det_s / enc_s)
            for n in counts:
                rows[f"decode {n} boxes"].append(_time(
                    lambda: find_objects(predictor, image, boxes=box_sets[n], threshold=0.0, image_is_set=True)))
            print(f"round {r + 1}: detector {det_s:.2f} s, set_image {enc_s:.2f} s, ratio {det_s / enc_s:.2f}, "
                  f"load average {os.getloadavg()[0]:.1f}")
    del inputs
    print()
    for name, values in rows.items():
        print(f"{name:36s} median {statistics.median(values):7.2f} s   (min {min(values):.2f})")
    print(f"{'detector / set_image':36s} median {statistics.median(ratios):7.2f}")


if __name__ == "__main__":
    main()
