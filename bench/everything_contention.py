"""Do other sessions' clicks get through while "segment everything" runs?

In one process, as in the app: session A runs segment everything (``ImageEngine``, the
app's own thread policy) on a photo while session B, whose image is already encoded,
clicks every 0.5 s. Prints B's click latency idle and during A's run; ``--spare N``
runs segment everything with N CPU threads fewer (the app uses
``ui.image.engine.EVERYTHING_SPARE_THREADS``, 0: leaving one made both slower here).

    python -m bench.everything_contention [--pps 16] [--clicks 8] [--spare 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pps", type=int, default=16)
    ap.add_argument("--clicks", type=int, default=8)
    ap.add_argument("--spare", type=int, default=0, help="CPU threads left to other sessions (app: 0)")
    args = ap.parse_args()

    import ui.image.engine as engine_module
    from sam2.media.images import load_image
    from sam2.testing import write_random_checkpoint
    from ui.image.engine import EverythingParams, ImageEngine
    from ui.image.state import PromptSet
    from ui.models.registry import ModelRegistry

    engine_module.EVERYTHING_SPARE_THREADS = args.spare
    tmp = tempfile.mkdtemp()
    ckpt = write_random_checkpoint(os.path.join(tmp, "tiny.pt"), "sam2.1_hiera_t", seed=0)
    engine = ImageEngine(ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=ckpt))
    model_id = engine.ensure_model(None)
    image = load_image(str(Path(__file__).resolve().parents[1] / "examples" / "street.jpg"))
    emb = engine.encode(model_id, image)
    prompts = PromptSet(points=((600.0, 400.0, 1),))

    def click() -> float:
        t0 = time.perf_counter()
        engine.predict(emb, prompts)
        return time.perf_counter() - t0

    idle = [click() for _ in range(args.clicks)]
    done = threading.Event()
    run_s = []

    def everything() -> None:
        t0 = time.perf_counter()
        engine.segment_everything(model_id, image, EverythingParams(points_per_side=args.pps))
        run_s.append(time.perf_counter() - t0)
        done.set()

    threading.Thread(target=everything, daemon=True).start()
    time.sleep(1.0)
    busy = []
    while not done.is_set() and len(busy) < args.clicks:
        busy.append(click())
        time.sleep(0.5)
    done.wait()
    print(f"spare threads {args.spare}, {args.pps}x{args.pps} points, {image.shape[1]}x{image.shape[0]}: "
          f"segment everything {run_s[0]:.1f} s; other session's click median {1000 * statistics.median(idle):.0f} ms "
          f"idle, {1000 * statistics.median(busy):.0f} ms (max {1000 * max(busy):.0f} ms, {len(busy)} clicks) "
          "during the run")


if __name__ == "__main__":
    main()
