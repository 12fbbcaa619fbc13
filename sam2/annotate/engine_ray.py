"""``--engine ray``: the same workers as actors of a Ray Data pipeline, on one machine or a cluster.

A Ray dataset of the items still to do (key, path, kind) goes through ``map_batches``
with an actor class that builds the models once (``Annotator``) and annotates each batch
of rows exactly as the local engine would (same code, same files): every actor writes its
items' files and parts straight into the output folder, which must therefore be on a file
system all nodes share (NFS, a mounted bucket) when the cluster has several machines. The
driver only counts the rows that come back (progress) and merges the parts at the end.

An actor that dies (a node lost, a worker killed) is restarted by Ray and its batch run
again; parts are written atomically, so an item done twice is written twice, identically.
Ray connects to ``RAY_ADDRESS`` (or ``address``) when given, else starts on this machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from sam2.annotate.options import AnnotateOptions
from sam2.annotate.sources import Item

INSTALL_HINT = "pip install -r requirements-ray.txt  (or: pip install 'ray[data]==2.60.*' pyarrow pandas)"


class RayUnavailableError(RuntimeError):
    """Ray (with Ray Data) is not installed; the message gives the pip line."""


@dataclass(frozen=True)
class RayOptions:
    address: Optional[str] = None  # None: RAY_ADDRESS, else a local Ray on this machine
    actors: int = 1  # model replicas
    cpus_per_actor: float = 1.0  # fractions are fine (0.5 on a 2-core machine leaves room for Ray Data)
    gpus_per_actor: float = 0.0
    rows_per_batch: int = 4  # items handed to an actor at once (a retried batch redoes this many)
    local_cpus: Optional[int] = None  # CPUs of a Ray started here (None: all)


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayUnavailableError(f"--engine ray needs Ray with Ray Data: {INSTALL_HINT} ({exc})") from exc
    return ray


class RayAnnotator:
    """The actor: one ``Annotator`` (models loaded once), called with batches of rows."""

    def __init__(self, options: AnnotateOptions) -> None:
        from sam2.annotate.worker import Annotator

        self.annotator = Annotator(options)
        self.annotator.prepare({"image"})

    def __call__(self, batch: Dict[str, object]) -> Dict[str, List[str]]:
        from sam2.annotate.pipeline import annotate_rows

        items = [Item(str(k), str(p), str(kd)) for k, p, kd in zip(batch["key"], batch["path"], batch["kind"])]
        parts = annotate_rows(self.annotator, items)
        return {"key": [p["key"] for p in parts], "status": [p["status"] for p in parts]}


def _ensure_ray(ray, opts: RayOptions) -> bool:
    """Connect or start Ray; True when this call started it (and should shut it down)."""
    if ray.is_initialized():
        return False
    address = opts.address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
        return True
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=opts.local_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    return True


def run_ray(options: AnnotateOptions, items: Sequence[Item], on_row: Callable[[str, str], None],
            ray_options: RayOptions = RayOptions()) -> None:
    """Annotate ``items`` on Ray; ``on_row(key, status)`` for each finished item, as they come."""
    from sam2.annotate.files import OutputError

    ray = import_ray()
    if not items:
        return
    started = _ensure_ray(ray, ray_options)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        rows = [{"key": it.key, "path": it.path, "kind": it.kind} for it in items]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * ray_options.actors)))
        remote = {}
        if ray_options.gpus_per_actor:
            remote["num_gpus"] = ray_options.gpus_per_actor
        out = ds.map_batches(
            RayAnnotator, fn_constructor_kwargs={"options": options}, batch_size=max(1, ray_options.rows_per_batch),
            compute=ray.data.ActorPoolStrategy(size=max(1, ray_options.actors)), num_cpus=ray_options.cpus_per_actor,
            batch_format="numpy",
            **remote,
        )
        try:
            for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
                for key, status in zip(batch["key"], batch["status"]):
                    on_row(str(key), str(status))
        except Exception as exc:  # a worker's OutputError comes back wrapped
            cause = exc
            while cause is not None and not isinstance(cause, OutputError):
                cause = getattr(cause, "cause", None) or cause.__cause__
            if isinstance(cause, OutputError):
                raise OutputError(cause.errno, str(cause)) from exc
            inner = exc
            while getattr(inner, "cause", None) is not None or inner.__cause__ is not None:
                inner = getattr(inner, "cause", None) or inner.__cause__
            raise RuntimeError(f"--engine ray: a worker failed: {type(inner).__name__}: "
                               f"{' '.join(str(inner).split())[:300]}") from exc
    finally:
        if started:
            ray.shutdown()
