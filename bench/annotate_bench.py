"""Batch annotation throughput and memory: ``python -m sam2.annotate`` against a plain loop.

    python -m bench.annotate_bench                          # 40 images, SAM 2.1 tiny at 1024 px, 1 round
    python -m bench.annotate_bench --image-size 256 --rounds 2 --rss-counts 100 1000

Throughput: the same 40 images of four sizes (640x480, 480x640, 640x360, 512x512, two boxes
each from a COCO file), SAM 2.1 tiny with seeded random weights (the real architecture,
hence the real cost), timed end to end (model load included) for

* ``loop``: what a user would write against the library: ``load_image`` + ``find_objects``
  + COCO RLE per image, one after the other;
* ``local``: ``annotate(..., engine="local")`` (background decoding, parts, merge), batch 1;
* ``local-b4``: the same with ``batch_size=4`` (same-size images encoded together; any
  ``local-bN`` works, e.g. ``local-b16`` on a GPU);
* ``ray``: ``engine="ray"`` on a local Ray with 2 CPUs, 2 actors of half a CPU and 1 torch
  thread each (Ray's start included).

Each round runs the variants in turn, so a machine whose speed drifts affects them alike;
ratios to ``loop`` are printed per round. ``--image-size`` below 1024 shrinks the model's
input (``++model.image_size``) to make the bench affordable on a busy CPU; say so with the
numbers. On a GPU: ``--device cuda --variants loop local local-b4 local-b16 --rss-counts``
(the batched path should beat the loop there). Memory: peak RSS of a fresh process annotating N tiny images (``--rss-counts``;
model input ``--rss-image-size``), to show that it does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SIZES = [(480, 640), (640, 480), (360, 640), (512, 512)]


def make_images(folder: str, n: int, sizes=SIZES) -> str:
    import numpy as np
    from PIL import Image

    rs = np.random.RandomState(0)
    os.makedirs(folder, exist_ok=True)
    images, anns = [], []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        a = (rs.rand(h, w, 3) * 80).astype(np.uint8)
        s = max(4, min(h, w) // 3)
        a[h // 4:h // 4 + s, w // 4:w // 4 + s] = 220
        name = f"im{i:05d}.jpg"
        Image.fromarray(a).save(os.path.join(folder, name), quality=90)
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        anns.append({"image_id": i + 1, "bbox": [w // 4, h // 4, s, s], "category_id": 1, "score": 0.9})
        anns.append({"image_id": i + 1, "bbox": [2, 2, w // 8, h // 8], "category_id": 2, "score": 0.8})
    path = folder.rstrip("/") + "_boxes.json"
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": anns,
                   "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "corner"}]}, f)
    return path


DEVICE = "cpu"
THREADS = None  # torch threads of the loop and the local engine (None: torch's default)
PRECISION = "auto"  # the same for every variant (the batch command's default)


def plain_loop(folder: str, boxes: str, ckpt: str, overrides) -> float:
    from sam2.assembly import build_image_model
    from sam2.find import Detection, find_objects
    from sam2.media.images import load_image
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from sam2.utils.amg import mask_to_coco_rle

    import torch

    if THREADS:
        torch.set_num_threads(THREADS)
    t0 = time.perf_counter()
    predictor = SAM2ImagePredictor(build_image_model("sam2.1_hiera_t", ckpt, device=DEVICE, precision=PRECISION,
                                                     hydra_overrides_extra=list(overrides)))
    doc = json.load(open(boxes))
    by_image = {}
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        by_image.setdefault(a["image_id"], []).append(Detection((x, y, x + w, y + h), str(a["category_id"]), 0.9))
    out = []
    for im in doc["images"]:
        rgb = load_image(os.path.join(folder, im["file_name"]))
        found = find_objects(predictor, rgb, boxes=by_image[im["id"]])
        out.append([mask_to_coco_rle(o.mask) for o in found.objects])
    return time.perf_counter() - t0


def run_annotate(folder: str, boxes: str, ckpt: str, overrides, out: str, engine: str, batch: int = 1) -> float:
    from sam2.annotate import annotate
    from sam2.annotate.engine_ray import RayOptions

    t0 = time.perf_counter()
    summary = annotate(folder, out, boxes=boxes, checkpoint=ckpt, overrides=tuple(overrides), device=DEVICE,
                       precision=PRECISION, progress=False, overwrite=True, engine=engine, batch_size=batch,
                       threads=1 if engine == "ray" else THREADS,
                       ray_options=RayOptions(local_cpus=2, actors=2, cpus_per_actor=0.5, rows_per_batch=2))
    seconds = time.perf_counter() - t0
    assert summary.images_done == len(os.listdir(folder)) and not summary.failed, summary.lines()
    return seconds


_RSS_CHILD = """
import resource
from sam2.annotate import annotate
s = annotate({folder!r}, {out!r}, boxes={boxes!r}, checkpoint={ckpt!r}, overrides=({ov!r},), device="cpu",
             progress=False, overwrite=True, threads=1)
assert s.images_done == {n} and not s.failed
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(tmp: str, n: int, ckpt: str, image_size: int) -> float:
    folder = os.path.join(tmp, f"rss{n}")
    boxes = make_images(folder, n, sizes=[(32, 32), (24, 40)])
    code = _RSS_CHILD.format(repo=str(REPO), folder=folder, out=folder + "_out", boxes=boxes, ckpt=ckpt,
                             ov=f"++model.image_size={image_size}", n=n)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(proc.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--image-size", type=int, default=1024, help="model input (1024: the real cost)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--variants", nargs="+", default=["loop", "local", "local-b4", "ray"])
    ap.add_argument("--device", default="cpu", help="cuda: the GPU check (use --variants loop local local-b4 "
                                                    "local-b16 there)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for loop/local (ray actors use 1 each); 1 on a busy shared machine")
    ap.add_argument("--precision", default="auto",
                    help="for every variant (the loop used to run exact while the command ran auto)")
    ap.add_argument("--rss-counts", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--rss-image-size", type=int, default=64)
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "annotate.json"))
    args = ap.parse_args()
    global DEVICE, THREADS, PRECISION
    DEVICE, THREADS, PRECISION = args.device, args.threads, args.precision

    from sam2.testing import write_random_checkpoint

    results = {"load_average_start": os.getloadavg(), "image_size": args.image_size, "images": args.images,
               "threads": args.threads, "device": args.device, "precision": args.precision,
               "rounds": [], "rss_mb": {}}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "tiny.pt"), "sam2.1_hiera_t", 0)
        folder = os.path.join(tmp, "images")
        boxes = make_images(folder, args.images)
        overrides = [f"++model.image_size={args.image_size}"] if args.image_size != 1024 else []
        for r in range(args.rounds):
            row = {}
            for v in args.variants:
                if v == "loop":
                    row[v] = plain_loop(folder, boxes, ckpt, overrides)
                elif v == "local":
                    row[v] = run_annotate(folder, boxes, ckpt, overrides, os.path.join(tmp, "o1"), "local")
                elif v.startswith("local-b"):
                    row[v] = run_annotate(folder, boxes, ckpt, overrides, os.path.join(tmp, "o2"), "local",
                                          int(v[len("local-b"):]))
                elif v == "ray":
                    row[v] = run_annotate(folder, boxes, ckpt, overrides, os.path.join(tmp, "o3"), "ray")
                print(f"round {r + 1} {v:9s} {row[v]:7.1f} s  {args.images / row[v]:6.3f} images/s  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            base = row.get("loop") or next(iter(row.values()))
            print("  speed vs loop: " + ", ".join(f"{k} {base / s:.2f}x" for k, s in row.items()), flush=True)
            if "local" in row and "ray" in row:
                print(f"  ray vs local: {row['local'] / row['ray']:.2f}x", flush=True)
            results["rounds"].append(row)
        for n in args.rss_counts:
            results["rss_mb"][n] = peak_rss_mb(tmp, n, ckpt, args.rss_image_size)
            print(f"peak RSS, {n} images: {results['rss_mb'][n]:.0f} MB", flush=True)
    results["load_average_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
