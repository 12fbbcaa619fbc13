"""Memory one image-tab session keeps per object on a large photo (no model needed).

Builds an ``ImageSession`` on a 6000 x 6000 (36-megapixel) image and gives it objects
whose predictions have the decoder's real shapes (three full-size candidate masks, three
256 x 256 logit maps; blob-shaped masks like SAM's), then reports the bytes each object
keeps (tracemalloc, which sees numpy's buffers) and the time one object costs.

    python -m bench.image_session_memory [--side 6000] [--objects 5]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from ui.canvas import raster
from ui.image.state import ImageSession, Prediction


def blob_candidates(h: int, w: int, k: int):
    """Three nested discs (C x H x W bool) and random 256 x 256 logits, as the decoder gives."""
    yy, xx = np.ogrid[:h, :w]
    cy, cx = h * (0.3 + 0.1 * (k % 4)), w * (0.3 + 0.1 * (k % 5))
    masks = np.stack([((yy - cy) ** 2 + (xx - cx) ** 2) < (h * r) ** 2 for r in (0.05, 0.1, 0.2)])
    return masks, np.random.default_rng(k).normal(size=(3, 256, 256)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=6000)
    ap.add_argument("--objects", type=int, default=5)
    args = ap.parse_args()
    h = w = args.side
    image = np.zeros((h, w, 3), np.uint8)
    session = ImageSession()
    session.load(image, "big.png", raster.make_display(image))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    seconds = []
    for k in range(args.objects):
        if k:
            session.new_object()
        session.add_point(w * 0.5, h * 0.5, 1)
        masks, logits = blob_candidates(h, w, k)  # what the engine hands over (transient)
        t0 = time.perf_counter()
        session.set_prediction(Prediction(masks=masks, iou=np.array([0.9, 0.8, 0.7], np.float32),
                                          stability=np.array([0.95, 0.9, 0.85], np.float32),
                                          low_res_logits=logits))
        seconds.append(time.perf_counter() - t0)
        del masks, logits
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"{h}x{w} ({h * w / 1e6:.0f} MP), {args.objects} objects: {kept / 2**20:.1f} MiB kept, "
          f"{kept / args.objects / 2**20:.2f} MiB per object; storing a prediction took "
          f"{1000 * float(np.median(seconds)):.0f} ms (median)")


if __name__ == "__main__":
    main()
