"""The local engine: images read and decoded by background threads while the model computes.

Items go in key order to a small pool of reader threads (PIL and numpy release the GIL
while they decode); at most ``lookahead`` decoded images wait, so memory does not grow
with the number of items. With ``batch_size > 1``, images wait in one bin per size and
a full bin is annotated in one ``set_image_batch`` call (a bin is also flushed when the
waiting images reach the lookahead, and at the end). Videos are decoded by the video
predictor itself, one at a time. Each result is written (files, then its part) before
the next batch starts, so a kill loses at most the batch in flight.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from sam2.annotate.results import ItemResult
from sam2.annotate.sources import Item
from sam2.annotate.worker import Annotator, read_image

OnPart = Callable[[dict], None]


def run_local(annotator: Annotator, items: Sequence[Item], on_part: OnPart) -> None:
    """Annotate ``items`` (those not done yet) and call ``on_part`` with each written part."""
    opts = annotator.options
    batch = max(1, int(opts.batch_size))
    lookahead = max(2 * batch, 2 * max(1, opts.read_workers))
    bins: Dict[Tuple[int, int], List[Tuple[Item, np.ndarray]]] = {}

    def flush(entries: List[Tuple[Item, np.ndarray]]) -> None:
        for result in annotator.annotate_images(entries):
            on_part(annotator.finish(result))

    def waiting() -> int:
        return sum(len(v) for v in bins.values())

    images = [it for it in items if it.kind == "image"]
    videos = [it for it in items if it.kind == "video"]
    annotator.prepare({it.kind for it in items})
    with ThreadPoolExecutor(max_workers=max(1, opts.read_workers), thread_name_prefix="annotate-read") as pool:
        pending: deque = deque()
        todo = iter(images)
        for item in todo:
            pending.append(pool.submit(read_image, item))
            if len(pending) >= lookahead:
                break
        while pending:
            item, rgb, reason = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(read_image, nxt))
            if rgb is None:
                on_part(annotator.finish(ItemResult.failed(item.key, "image", reason)))
                continue
            if batch == 1:
                flush([(item, rgb)])
                continue
            size = tuple(rgb.shape[:2])
            bins.setdefault(size, []).append((item, rgb))
            if len(bins[size]) >= batch:
                flush(bins.pop(size))
            elif waiting() >= lookahead:
                flush(bins.pop(max(bins, key=lambda s: len(bins[s]))))
        for size in list(bins):
            flush(bins.pop(size))
    for item in videos:
        on_part(annotator.finish(annotator.annotate_video(item)))


def annotate_rows(annotator: Annotator, rows: Sequence[Item]) -> List[dict]:
    """Annotate a handful of items in this process (a Ray actor's batch); returns their parts."""
    parts: List[dict] = []
    run_local(annotator, rows, parts.append)
    return parts
