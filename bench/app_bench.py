"""Click-to-overlay latency through the app's image tab, server side.

Times ``ImageController.add_point`` (what a click on the picture runs: prompt bookkeeping,
the decoder, the three candidates, the overlay and candidate thumbnails) after the image
has been encoded, on a 1800x1200 photo, with random tiny weights from a local checkpoint.
The browser's own round trip (HTTP, JPEG of the overlay) is not included.

    python -m bench.app_bench [--precision auto] [--clicks 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="facebook/sam2.1-hiera-tiny")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--clicks", type=int, default=10)
    args = parser.parse_args()

    import numpy as np

    from bench.bench import test_image
    from sam2.configs import HF_MODELS
    from sam2.testing import write_random_checkpoint
    from ui.image.controller import ImageController
    from ui.image.engine import ImageEngine
    from ui.models.registry import ModelRegistry

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "m.pt"), HF_MODELS[args.model][0], seed=0)
        registry = ModelRegistry(device="cpu", default_model=args.model, checkpoint=ckpt, precision=args.precision)
        controller = ImageController(ImageEngine(registry))
        image = test_image()
        path = os.path.join(tmp, "photo.png")
        from PIL import Image

        Image.fromarray(image).save(path)
        sid = "bench"
        controller.load(sid, path)
        t0 = time.perf_counter()
        controller.prepare(sid, None)
        encode_s = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        times = []
        for i in range(args.clicks + 1):
            if i % 3 == 0:
                controller.clear_all(sid)
            x, y = rng.uniform(100, 1700), rng.uniform(100, 1100)
            t0 = time.perf_counter()
            view = controller.add_point(sid, x, y, foreground=True)
            times.append(time.perf_counter() - t0)
            assert view.canvas is not None
        times = sorted(times[1:])
    print(f"model {args.model}, precision {args.precision}, image {image.shape[1]}x{image.shape[0]}")
    print(f"load + encode (first prepare): {encode_s:.2f} s")
    print(f"click -> overlay, server side: median {1000 * times[len(times) // 2]:.0f} ms, "
          f"max {1000 * times[-1]:.0f} ms over {len(times)} clicks")


if __name__ == "__main__":
    main()
