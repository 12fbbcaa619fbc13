"""What is done: one small *part* file per finished item, so a run can stop at any moment and resume.

``parts/<hash of key>.json`` holds everything the final merge needs about one item (its
status, reason, size and the COCO annotations of an image) and is written last, after
the item's label/PNG/video files, with an atomic replace and fsync. So after a kill -9
an item either has its part (and all its files) or is done again from the start; a
part is never half-written. The parts are the manifest: ``done_keys`` lists them.
Failed items get a part too (for the summary) but are tried again on a resumed run.

``run.json`` records the options that shape results; a resumed run with other options
is refused (``--overwrite`` starts over) instead of mixing two kinds of results.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any, Dict, Iterable, Iterator, Optional

from sam2.annotate.files import OutputError, atomic_write, explain

PARTS = "parts"
RUN_FILE = "run.json"
#: Everything a run writes at the top of the output folder; ``--overwrite`` removes only these.
OWNED = (RUN_FILE, PARTS, "annotations.json", "summary.json", "labels", "masks", "videos")
RESUMABLE = ("done", "skipped")  # statuses not redone on a resumed run


def part_name(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:24] + ".json"


class Manifest:
    def __init__(self, out: str) -> None:
        self.out = out
        self.parts = os.path.join(out, PARTS)

    def part_path(self, key: str) -> str:
        return os.path.join(self.parts, part_name(key))

    def record(self, part: Dict[str, Any]) -> None:
        atomic_write(self.part_path(part["key"]), json.dumps(part, separators=(",", ":")), fsync=True)

    def read(self, key: str) -> Optional[Dict[str, Any]]:
        try:
            with open(self.part_path(key), encoding="utf-8") as f:
                part = json.load(f)
        except (OSError, ValueError):
            return None
        return part if part.get("key") == key else None

    def finished(self, keys: Iterable[str]) -> Dict[str, str]:
        """key -> status for the items with a part whose status is not redone."""
        try:
            present = set(os.listdir(self.parts))
        except OSError:
            return {}
        out = {}
        for key in keys:
            if part_name(key) in present:
                part = self.read(key)
                if part is not None and part.get("status") in RESUMABLE:
                    out[key] = part["status"]
        return out

    def iter_parts(self, keys: Iterable[str]) -> Iterator[Dict[str, Any]]:
        for key in keys:
            part = self.read(key)
            if part is not None:
                yield part

    # ------------------------------------------------------------------ run options
    def start(self, fingerprint: Dict[str, Any], overwrite: bool) -> bool:
        """Begin (or resume) a run in ``out``; True when it resumes an earlier one."""
        run_file = os.path.join(self.out, RUN_FILE)
        if overwrite:
            self.clear()
        elif os.path.exists(run_file):
            try:
                with open(run_file, encoding="utf-8") as f:
                    earlier = json.load(f).get("options")
            except (OSError, ValueError):
                earlier = None
            if earlier != fingerprint and self._has_parts():
                changed = sorted(k for k in set(fingerprint) | set(earlier or {})
                                 if (earlier or {}).get(k) != fingerprint.get(k))
                raise ValueError(f"{self.out} holds a run with other options ({', '.join(changed) or 'unreadable'}"
                                 "); use --overwrite to start over, or another --out folder")
            if earlier == fingerprint:
                self._remove_stale_temporaries()
                return True
        atomic_write(run_file, json.dumps({"options": fingerprint}, indent=1), fsync=True)
        return False

    def _remove_stale_temporaries(self) -> None:
        """Temporary files of a killed run (``.<part>.tmp-<pid>``): never results, removed on resume."""
        try:
            names = os.listdir(self.parts)
        except OSError:
            return
        for name in names:
            if name.startswith(".") and ".tmp-" in name:
                try:
                    os.remove(os.path.join(self.parts, name))
                except OSError:
                    pass

    def _has_parts(self) -> bool:
        try:
            return any(name.endswith(".json") for name in os.listdir(self.parts))
        except OSError:
            return False

    def clear(self) -> None:
        for name in OWNED:
            path = os.path.join(self.out, name)
            try:
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.remove(path)
            except OSError as exc:
                raise OutputError(exc.errno, explain(exc, path)) from exc
