"""``annotate(...)``: the Python entry point behind ``python -m sam2.annotate``.

Order of work: check the prompts and the input (clear errors before anything is
written), claim the output folder (``run.json``; a resumed run must have the same
options), skip what is done, annotate the rest with the chosen engine under a progress
bar, merge, summarise. An unwritable output folder stops the run with ``OutputError``
and leaves every finished item in place for the next run.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, Sequence, Union

from sam2.annotate.files import check_writable
from sam2.annotate.manifest import Manifest
from sam2.annotate.merge import merge
from sam2.annotate.options import AnnotateOptions, EverythingOptions
from sam2.annotate.prompts import PromptError, load_prompts
from sam2.annotate.sources import expand_input
from sam2.annotate.summary import Summary

ENGINES = ("local", "ray")


def annotate(
    input: Union[str, os.PathLike, Sequence[str]],
    out: Union[str, os.PathLike],
    *,
    text: Optional[str] = None,
    boxes: Optional[str] = None,
    points: Optional[str] = None,
    everything: Union[bool, EverythingOptions] = False,
    engine: str = "local",
    overwrite: bool = False,
    progress: bool = True,
    ray_options=None,
    **options,
) -> Summary:
    """Annotate every image and video of ``input`` into ``out``; the run's ``Summary``.

    One prompt: ``text="car, person"``, ``boxes=FILE``, ``points=FILE`` or ``everything=True``
    (or an ``EverythingOptions``). Other keyword arguments are ``AnnotateOptions`` fields
    (``model``, ``checkpoint``, ``device``, ``precision``, ``batch_size``, ``png``, ...).
    Raises ``InputError`` / ``PromptError`` / ``ValueError`` for unusable arguments and
    ``OutputError`` when ``out`` cannot be written.
    """
    given = [m for m, v in (("text", text), ("boxes", boxes), ("points", points), ("everything", everything)) if v]
    if len(given) != 1:
        raise PromptError("give exactly one prompt: --text, --boxes, --points or --everything"
                          + (f" (got {', '.join('--' + g for g in given)})" if given else ""))
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    mode = given[0]
    detector = options.get("detector")
    if detector and os.path.isdir(os.path.expanduser(detector)):
        options["detector"] = os.path.abspath(os.path.expanduser(detector))
    if "overrides" in options:
        options["overrides"] = tuple(options["overrides"] or ())
    if isinstance(everything, EverythingOptions):
        options["everything"] = everything.validated()  # a bad knob: ValueError before any model work
    opts = AnnotateOptions(out=os.fspath(out), mode=mode, text=text, boxes=_abs(boxes), points=_abs(points),
                           checkpoint=_abs(options.pop("checkpoint", None)), **options)
    if engine == "ray":
        from sam2.annotate.engine_ray import import_ray

        import_ray()  # the install hint before any work
    prompts = load_prompts(mode, text=text, boxes=opts.boxes, points=opts.points)
    items = expand_input(input)
    check_writable(opts.out)
    manifest = Manifest(opts.out)
    manifest.start(opts.fingerprint(), overwrite)
    keys = [it.key for it in items]
    finished = manifest.finished(keys)
    todo = [it for it in items if it.key not in finished]
    notes = []
    unmatched = prompts.names_without_items(items)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (", ..." if len(unmatched) > 5 else "")
        notes.append(f"the prompt file names {len(unmatched)} item(s) not found in INPUT: {shown}")
    if finished:
        notes.append(f"resumed: {len(finished)} item(s) were done by an earlier run")
    bar = _progress(len(items), len(finished), progress)
    t0 = time.perf_counter()
    processed = 0

    def on_row(key: str, status: str) -> None:
        nonlocal processed
        processed += 1
        bar.update(1)
        if status == "failed":
            bar.set_postfix_str(f"failed: {key}"[:60], refresh=False)

    import torch

    threads = torch.get_num_threads()  # --threads is for this run, not for the caller's process
    try:
        if engine == "local":
            from sam2.annotate.pipeline import run_local
            from sam2.annotate.worker import Annotator

            if todo:
                run_local(Annotator(opts, prompts), todo, lambda part: on_row(part["key"], part["status"]))
        else:
            from sam2.annotate.engine_ray import RayOptions, run_ray

            run_ray(opts, todo, on_row, ray_options or RayOptions())
    finally:
        bar.close()
        torch.set_num_threads(threads)
    return merge(opts.out, keys, prompts.categories, run_seconds=time.perf_counter() - t0,
                 processed_this_run=processed, notes=notes)


def _abs(path: Optional[str]) -> Optional[str]:
    """Absolute paths, so that workers started elsewhere (Ray) find the same files."""
    return os.path.abspath(os.fspath(path)) if path else None


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="item", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)
