"""SAM 2 demo app: ``python app.py [--model ID] [--checkpoint PATH] [--device DEV] [--port N]``.

Only wiring lives here (argument parsing, building the page, launching); the interface is
in the ``ui`` package and the model in ``sam2``. On Hugging Face Spaces this file is the
``app_file`` and runs with no arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import List, Optional

from ui.common import spaces  # noqa: F401 - must be imported before torch on ZeroGPU Spaces
from sam2.checkpoint import CheckpointError
from ui.common import run_folder
from ui.common.errors import ModelUnavailableError
from ui.page import AppConfig, build_demo, launch_options, make_registry
from ui.models.names import model_ids
from sam2.precision import PRECISIONS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Segment objects in images and videos with SAM 2 / SAM 2.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default=os.environ.get("SAM2_MODEL"),
                   help="Hugging Face id or short name (" + ", ".join(m.split("/")[1] for m in model_ids())
                   + "); default: sam2.1-hiera-tiny on CPU, sam2.1-hiera-large on CUDA")
    p.add_argument("--checkpoint", default=os.environ.get("SAM2_CHECKPOINT"),
                   help="local .pt/.safetensors weights for --model, or a folder in the transformers layout "
                        "(model.safetensors + config.json); no download")
    p.add_argument("--device", default=os.environ.get("SAM2_DEVICE"),
                   help="torch device (cpu, cuda, cuda:1, mps); default: cuda when available")
    p.add_argument("--precision", default=os.environ.get("SAM2_PRECISION", "auto"), choices=list(PRECISIONS),
                   help="auto/fast: bfloat16 encoder and memory attention where the hardware has native "
                        "bfloat16 (2-3x faster); exact: float32, the reference's numbers; int8: 8-bit "
                        "weights, a quarter of the model's memory (SAM 2.1 large in ~0.23 GB)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind; 0.0.0.0 to serve other machines / containers")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a temporary public gradio.live link")
    p.add_argument("--no-video", action="store_true", help="image tab only")
    p.add_argument("--concurrency", type=int, default=4, help="prompt events processed at once")
    return p.parse_args(argv)


def one_line(text: str, limit: int = 600) -> str:
    """``text`` on one line (whitespace runs collapsed), cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Everything this run writes goes under one folder, removed at exit (SIGTERM included)
    # and swept of earlier runs' leftovers now (ui.common.run_folder).
    run = run_folder.current()
    run_folder.use_for_gradio(run)

    def stop(signum: int, frame: object) -> None:
        # SIGTERM (a container or Space stopping): remove the run's files, then end at once,
        # as the default action would (a normal exit would wait on the model's threads).
        run.remove()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if spaces.ON_SPACES and args.host == "127.0.0.1":
        args.host = "0.0.0.0"

    try:
        config = AppConfig(model=args.model, checkpoint=args.checkpoint, device=args.device,
                           concurrency_limit=max(1, args.concurrency), video=not args.no_video,
                           precision=args.precision)
        registry = make_registry(config)
        # A bad --checkpoint is refused here, before serving; without one, the log says
        # whether the default model's weights can be had (cached, Hub reachable) or not.
        registry.check_at_startup()
        demo = build_demo(config, registry)
    except CheckpointError as exc:  # --checkpoint unreadable, not plain weights, or another model's
        sys.exit(f"app.py: error: --checkpoint: {one_line(str(exc))}")
    except ValueError as exc:  # bad --model / --device / missing --checkpoint
        sys.exit(f"app.py: error: {one_line(str(exc))}")
    if spaces.ZERO_GPU and registry.unavailable_reason(None) is None:
        # ZeroGPU forks a worker per GPU call: load the default model in this process first
        # (a model that cannot be had was reported above; the page says so too).
        try:
            registry.get(None)
        except ModelUnavailableError:
            pass  # remembered and logged by the registry; every action will say it
    demo.queue(default_concurrency_limit=max(1, args.concurrency)).launch(
        server_name=args.host, server_port=args.port, share=args.share, **launch_options()
    )


if __name__ == "__main__":
    main()
