"""``python -m sam2.annotate INPUT --out DIR (--text Q | --boxes F | --points F | --everything) [options]``.

Exit codes: 0 every item done or skipped; 1 an argument, the input or the output folder
is unusable (one line on stderr, ``sam2.annotate: error: ...``); 3 the run finished but
some items failed (listed in the summary and in ``summary.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from sam2.find import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, MAX_OBJECTS
from sam2.precision import PRECISIONS

PROG = "sam2.annotate"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m {PROG}", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Segment every image and video of a folder, glob or list with SAM 2: COCO RLE JSON, "
                    "YOLO-seg labels, PNG masks, per-video COCO and DAVIS PNGs. Resumable: run the same "
                    "command again after a stop and it finishes what is left.",
    )
    p.add_argument("input", help="a folder (searched recursively), a glob ('photos/**/*.jpg'), or a "
                                 ".txt/.csv/.parquet list of image and video paths")
    p.add_argument("--out", required=True, help="output folder (created; a run there is resumed)")
    prompt = p.add_argument_group("prompt (exactly one)")
    prompt.add_argument("--text", help="what to find, e.g. 'car, person' (detector boxes -> SAM 2 masks)")
    prompt.add_argument("--boxes", help="COCO JSON (images + annotations) or a folder of YOLO .txt labels")
    prompt.add_argument("--points", help='JSON: {"image.jpg": [{"points": [[x, y]], "labels": [1], '
                                         '"label": "car"}]}')
    prompt.add_argument("--everything", action="store_true", help="the automatic mask generator")
    model = p.add_argument_group("model (as the app)")
    model.add_argument("--model", default=os.environ.get("SAM2_MODEL"),
                       help="Hub id or short name (tiny, large, sam2.1_hiera_b+, edgetam); default: tiny on CPU, "
                            "large on CUDA")
    model.add_argument("--checkpoint", default=os.environ.get("SAM2_CHECKPOINT"),
                       help="local .pt/.safetensors weights for --model; no download")
    model.add_argument("--override", action="append", default=[], metavar="++model.FIELD=VALUE",
                       help="official config override, repeatable (e.g. ++model.image_size=512: faster, coarser)")
    model.add_argument("--device", default=os.environ.get("SAM2_DEVICE"), help="cpu, cuda, cuda:1, mps")
    model.add_argument("--precision", default=os.environ.get("SAM2_PRECISION", "auto"),
                       choices=list(PRECISIONS), help="as the app's --precision (int8: 8-bit weights)")
    find = p.add_argument_group("text / boxes")
    find.add_argument("--detector", default=DEFAULT_DETECTOR, help="Hub id or local folder of the text detector")
    find.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="lowest box score kept")
    find.add_argument("--max-objects", type=int, default=MAX_OBJECTS, help="objects per image, strongest first")
    amg = p.add_argument_group("everything")
    amg.add_argument("--points-per-side", type=int, default=32)
    amg.add_argument("--points-per-batch", type=int, default=64)
    amg.add_argument("--pred-iou-thresh", type=float, default=0.8)
    amg.add_argument("--stability-score-thresh", type=float, default=0.95)
    amg.add_argument("--box-nms-thresh", type=float, default=0.7)
    amg.add_argument("--crop-n-layers", type=int, default=0)
    amg.add_argument("--min-mask-region-area", type=int, default=0)
    outs = p.add_argument_group("outputs")
    outs.add_argument("--no-yolo", action="store_true", help="no YOLO-seg label files")
    outs.add_argument("--png", action="store_true", help="also a palette PNG mask per image (masks/)")
    outs.add_argument("--max-video-frames", type=int, default=None, help="frames tracked per video")
    outs.add_argument("--overwrite", action="store_true", help="start over: delete this tool's files in --out")
    speed = p.add_argument_group("speed")
    speed.add_argument("--engine", choices=["local", "ray"], default="local")
    speed.add_argument("--batch-size", type=int, default=1,
                       help="same-size images encoded together (pays on a GPU; 1 on a small CPU)")
    speed.add_argument("--read-workers", type=int, default=2, help="background decoding threads")
    speed.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    speed.add_argument("--quiet", action="store_true", help="no progress bar")
    ray = p.add_argument_group("--engine ray")
    ray.add_argument("--ray-address", default=None, help="a running cluster (default: RAY_ADDRESS, else a local Ray)")
    ray.add_argument("--actors", type=int, default=1, help="model replicas")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0)
    ray.add_argument("--gpus-per-actor", type=float, default=0.0)
    ray.add_argument("--rows-per-batch", type=int, default=4, help="items per actor call")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from sam2.annotate.engine_ray import RayOptions, RayUnavailableError
    from sam2.annotate.files import OutputError
    from sam2.annotate.options import EverythingOptions
    from sam2.annotate.run import annotate
    from sam2.checkpoint import CheckpointError
    from sam2.find import DetectorUnavailableError

    everything = EverythingOptions(args.points_per_side, args.points_per_batch, args.pred_iou_thresh,
                                   args.stability_score_thresh, args.box_nms_thresh, args.crop_n_layers,
                                   args.min_mask_region_area) if args.everything else False
    try:
        summary = annotate(
            args.input, args.out, text=args.text, boxes=args.boxes, points=args.points, everything=everything,
            engine=args.engine, overwrite=args.overwrite, progress=not args.quiet,
            ray_options=RayOptions(args.ray_address, args.actors, args.cpus_per_actor, args.gpus_per_actor,
                                   args.rows_per_batch),
            model=args.model, checkpoint=args.checkpoint, overrides=tuple(args.override), device=args.device,
            precision=args.precision,
            detector=args.detector, threshold=args.threshold, max_objects=args.max_objects,
            yolo=not args.no_yolo, png=args.png, batch_size=args.batch_size, read_workers=args.read_workers,
            threads=args.threads, max_video_frames=args.max_video_frames,
        )
    except OutputError as exc:
        print(f"{PROG}: error: {exc.strerror or exc}. Items finished so far are kept; "
              "run the same command again to finish.", file=sys.stderr)
        return 1
    except (ValueError, CheckpointError, DetectorUnavailableError, RayUnavailableError, RuntimeError) as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    print(f"results: {os.path.join(args.out, 'annotations.json')}")
    return 3 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
