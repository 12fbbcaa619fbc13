"""Gradio's cache writes without truncating a file another request is sending.

Gradio names an output picture by the hash of its bytes (``processing_utils.save_pil_to_cache``)
and writes it in place every time. Two sessions that produce the same picture at the same
time (the same example loaded by two users, the load test's identical clients) then rewrite
a file that is being sent to the other: the download ends short ("Too little data for declared
Content-Length") and that client's call fails. ``atomic_cache_writes()`` makes the write skip
a file that is already there (same name = same bytes) and otherwise write a temporary file
and rename it into place, so a reader always sees a whole file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

_PATCHED = "_sam2_atomic"


def atomic_cache_writes() -> None:
    """Patch ``gradio.processing_utils.save_pil_to_cache`` (idempotent)."""
    from gradio import processing_utils

    original = processing_utils.save_pil_to_cache
    if getattr(original, _PATCHED, False):
        return

    def save_pil_to_cache(img: Any, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        target = (folder / f"{name}.{format}").resolve()
        if target.is_file() and target.stat().st_size == len(data):
            return str(target)  # the same bytes are there already (the name is their hash)
        fd, tmp = tempfile.mkstemp(dir=str(folder), prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise
        return str(target)

    setattr(save_pil_to_cache, _PATCHED, True)
    processing_utils.save_pil_to_cache = save_pil_to_cache
