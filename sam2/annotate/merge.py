"""The end of a run: the parts merged into one COCO file and the summary, in key order.

Whatever engine wrote them and in whatever order, parts are read in item-key order, so
image ids, annotation ids and the file's bytes depend only on the items and their results
(``--engine local`` and ``--engine ray`` give the same file). The COCO file is streamed:
images and annotations are written to two temporary files as parts are read one at a
time, then joined and moved into place, so memory stays flat over any number of images.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

from sam2.annotate.files import OutputError, atomic_open, explain
from sam2.annotate.manifest import Manifest
from sam2.annotate.summary import Summary

COCO_FILE = "annotations.json"


def merge(out: str, keys: Sequence[str], categories: Sequence[str], *, run_seconds: float = 0.0,
          processed_this_run: int = 0, notes: Sequence[str] = ()) -> Summary:
    """Write ``annotations.json`` and ``summary.json`` from the parts of ``keys``; the summary."""
    manifest = Manifest(out)
    counts: Counter = Counter()
    objects: Counter = Counter({name: 0 for name in categories})
    failed: List[Dict[str, str]] = []
    skipped: List[Dict[str, str]] = []
    missing = 0
    images_tmp = os.path.join(out, f".images.tmp-{os.getpid()}")
    anns_tmp = os.path.join(out, f".annotations.tmp-{os.getpid()}")
    image_id = ann_id = 0
    try:
        with open(images_tmp, "w", encoding="utf-8") as fi, open(anns_tmp, "w", encoding="utf-8") as fa:
            for key in keys:
                part = manifest.read(key)
                if part is None:
                    missing += 1
                    continue
                status = part.get("status")
                counts[(part.get("kind", "image"), status)] += 1
                if status == "failed":
                    failed.append({"item": key, "reason": part.get("reason", "")})
                    continue
                if status == "skipped":
                    skipped.append({"item": key, "reason": part.get("reason", "")})
                    continue
                if part.get("kind") == "video":
                    for o in part.get("objects", []):
                        objects[o["label"]] += 1
                    continue
                image_id += 1
                fi.write(("," if image_id > 1 else "") + json.dumps(
                    {"id": image_id, "file_name": key, "height": part["height"], "width": part["width"]}))
                for ann in part.get("annotations", []):
                    ann_id += 1
                    objects[ann["label"]] += 1
                    fa.write(("," if ann_id > 1 else "") + json.dumps(dict(id=ann_id, image_id=image_id, **ann)))
        cats = json.dumps([{"id": i + 1, "name": n} for i, n in enumerate(categories)])
        info = json.dumps({"description": "SAM 2 masks (python -m sam2.annotate)",
                           "format": "COCO RLE (pycocotools.mask.decode); bbox as pycocotools toBbox"})
        with atomic_open(os.path.join(out, COCO_FILE)) as f:
            f.write(f'{{"info":{info},"categories":{cats},"images":[')
            with open(images_tmp, encoding="utf-8") as src:
                shutil.copyfileobj(src, f)
            f.write('],"annotations":[')
            with open(anns_tmp, encoding="utf-8") as src:
                shutil.copyfileobj(src, f)
            f.write("]}\n")
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(exc.errno, explain(exc, out)) from exc
    finally:
        for tmp in (images_tmp, anns_tmp):
            if os.path.exists(tmp):
                os.remove(tmp)
    summary = Summary(
        images_done=counts[("image", "done")], videos_done=counts[("video", "done")],
        skipped=skipped, failed=failed, not_finished=missing, objects=dict(objects),
        seconds=run_seconds, processed_this_run=processed_this_run, notes=list(notes),
    )
    summary.write(out)
    return summary


def load_summary(out: str) -> Optional[Dict[str, Any]]:
    try:
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
