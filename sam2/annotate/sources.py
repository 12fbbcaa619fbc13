"""What to annotate: INPUT (a folder, a glob, or a list file) expanded to items in a fixed order.

Every item has a *key*: its path relative to the input's root (the folder, the glob's
fixed prefix, or the list file's folder), with ``/`` separators. Keys name the outputs
(``labels/<key stem>.txt``), order the merged COCO file and identify finished items on a
resumed run, so they must not depend on the machine or the order the file system lists
files: items are sorted by key. Paths outside the root keep their absolute path as key.

A folder is searched recursively for images and videos (by extension; hidden files and
folders are skipped); a list file (``.txt``: one path per line, ``#`` comments; ``.csv``
and ``.parquet``: the ``path`` column, else the first column) is taken as given, so a
listed path that is missing or not a picture becomes a failed item with its reason, not
a silent gap.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple, Union

from sam2.media.video import VIDEO_EXTENSIONS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
LIST_EXTENSIONS = (".txt", ".csv", ".parquet")


class InputError(ValueError):
    """INPUT cannot be expanded into items (missing, empty, unreadable list); the message says why."""


@dataclass(frozen=True, order=True)
class Item:
    """One image or video to annotate."""

    key: str  # relative, "/"-separated; unique within a run
    path: str  # where to read it
    kind: str  # "image" or "video"


def kind_of(path: str) -> str:
    """``"video"`` for the video extensions the readers take, else ``"image"``."""
    return "video" if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS else "image"


def _is_media(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def _key(path: str, root: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel.startswith(".."):
        rel = os.path.abspath(path).lstrip(os.sep)
    return rel.replace(os.sep, "/")


def _walk(folder: str) -> List[str]:
    found = []
    for here, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(here, f) for f in files if not f.startswith(".") and _is_media(f)]
    return found


def _read_list(path: str) -> List[str]:
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".txt":
            with open(path, encoding="utf-8-sig") as f:
                lines = [line.strip() for line in f]
            return [line for line in lines if line and not line.startswith("#")]
        if ext == ".csv":
            import pandas as pd

            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            import pandas as pd

            frame = pd.read_parquet(path)
    except ImportError as exc:
        raise InputError(f"reading {os.path.basename(path)} needs pandas/pyarrow: pip install pandas pyarrow "
                         f"({exc})") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the list {os.path.basename(path)}: {exc}") from exc
    if frame.shape[1] == 0:
        raise InputError(f"the list {os.path.basename(path)} has no columns")
    column = "path" if "path" in frame.columns else frame.columns[0]
    return [str(v).strip() for v in frame[column].tolist() if str(v).strip() and str(v) != "nan"]


def expand_input(source: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]) -> List[Item]:
    """The items of INPUT, sorted by key; ``InputError`` when there is nothing to do.

    ``source`` may also be a Python list of paths (keys relative to the current folder).
    """
    if isinstance(source, (list, tuple)):
        paths, root = [os.fspath(p) for p in source], os.getcwd()
        what = "the given list"
    else:
        text = os.fspath(source)
        if os.path.isdir(text):
            paths, root, what = _walk(text), text, f"the folder {text}"
        elif os.path.isfile(text) and os.path.splitext(text)[1].lower() in LIST_EXTENSIONS:
            root = os.path.dirname(os.path.abspath(text))
            paths = [p if os.path.isabs(p) else os.path.join(root, p) for p in _read_list(text)]
            what = f"the list {os.path.basename(text)}"
        elif os.path.isfile(text):
            paths, root, what = [text], os.path.dirname(os.path.abspath(text)), text
        elif glob.has_magic(text):
            prefix = text[: min(text.find(c) for c in "*?[" if c in text)]
            root = prefix if prefix.endswith(os.sep) else os.path.dirname(prefix) or "."
            paths = [p for p in glob.glob(text, recursive=True) if os.path.isfile(p) and _is_media(p)]
            what = f"the pattern {text}"
        else:
            raise InputError(f"INPUT not found: {text} (expected a folder, a glob pattern, or a .txt/.csv/.parquet "
                             "list of image and video paths)")
    items = _unique(Item(_key(p, root), os.path.abspath(p), kind_of(p)) for p in paths)
    if not items:
        raise InputError(f"no images or videos in {what} (images: {', '.join(IMAGE_EXTENSIONS)}; "
                         f"videos: {', '.join(VIDEO_EXTENSIONS)})")
    return items


def _unique(items: Iterable[Item]) -> List[Item]:
    """Sorted by key; a path listed twice is one item."""
    by_key = {}
    for item in items:
        by_key.setdefault(item.key, item)
    return sorted(by_key.values())


def split_counts(items: Sequence[Item]) -> Tuple[int, int]:
    """(images, videos)."""
    videos = sum(1 for it in items if it.kind == "video")
    return len(items) - videos, videos
