"""What to look for in each item: a text query, a box file, a points file, or everything.

The prompt source is loaded once per worker from the run's options (paths, so Ray actors
load it themselves from a shared folder). Files are checked whole when loaded, so a bad
points file stops the run before any work instead of failing item by item.

Categories are fixed before any item is processed (the query's labels; the box file's
category names; the points file's labels; ``object`` for everything): COCO ``category_id``
is the position in that list + 1 and the YOLO class its position, so workers that write
their YOLO files independently agree without talking to each other.

Box files: a COCO JSON (``images`` + ``annotations`` [+ ``categories``]) or a folder of
YOLO ``.txt`` labels (``<stem>.txt`` at the image's relative path or beside its base name;
class names from ``classes.txt`` / ``obj.names`` / ``*.names`` in that folder). Each image's
boxes are read by ``sam2.find.box_files`` (the app's reader: same checks, same messages).
Points file: JSON ``{"<image key or file name>": [{"points": [[x, y], ...], "labels":
[1, 0, ...], "label": "car", "frame": 0}, ...]}``; labels default to all 1 (foreground),
``frame`` (videos) to 0.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from sam2.annotate.sources import Item
from sam2.find import Detection, parse_class_names, parse_coco_detections, parse_query, read_box_file
from sam2.find.box_files import BoxFileError

MODES = ("text", "boxes", "points", "everything")


class PromptError(ValueError):
    """A prompt option or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class PointObject:
    """One object given by clicks: points (N x 2 pixels), their labels (1 fg, 0 bg), a label."""

    points: Tuple[Tuple[float, float], ...]
    point_labels: Tuple[int, ...]
    label: str = "object"
    frame: int = 0


@dataclass
class ItemPrompts:
    """The prompts of one item: boxes (``Detection``s) or point objects, per frame (images: frame 0).

    ``None`` as a whole (from ``PromptSource.for_item``) means the source has nothing for
    this item (not in the box file): it is skipped, not annotated with zero objects.
    """

    boxes: Dict[int, List[Detection]] = field(default_factory=dict)
    points: Dict[int, List[PointObject]] = field(default_factory=dict)


class PromptSource:
    """Loaded prompts of a run; ``for_item(item, hw)`` gives one item's, ``categories`` the labels."""

    def __init__(self, mode: str, categories: Sequence[str], query: Optional[Tuple[str, ...]] = None) -> None:
        self.mode = mode
        self.categories: Tuple[str, ...] = tuple(categories)
        self.query = query

    def for_item(self, item: Item, hw: Tuple[int, int]) -> Optional[ItemPrompts]:
        return ItemPrompts()

    def names_without_items(self, items: Sequence[Item]) -> List[str]:
        """Entries of the prompt file that match no item (a box file naming missing images)."""
        return []


class _ByName:
    """Looks entries up by item key, then by base name when that is unambiguous."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._by_base: Dict[str, List[str]] = defaultdict(list)
        for n in self.names:
            self._by_base[os.path.basename(n)].append(n)
        self._set = set(self.names)

    def find(self, item: Item) -> Optional[str]:
        if item.key in self._set:
            return item.key
        if item.path in self._set:
            return item.path
        hits = self._by_base.get(os.path.basename(item.key), [])
        return hits[0] if len(hits) == 1 else None

    def unmatched(self, items: Sequence[Item]) -> List[str]:
        used = {self.find(it) for it in items}
        return [n for n in self.names if n not in used]


class TextPrompts(PromptSource):
    """``--text "car, person"``: the detector finds the boxes (in the worker)."""

    def __init__(self, text: str) -> None:
        try:
            labels = parse_query(text)
        except ValueError as exc:
            raise PromptError(f"--text: {exc}") from exc
        super().__init__("text", labels, labels)


class EverythingPrompts(PromptSource):
    def __init__(self) -> None:
        super().__init__("everything", ("object",))


class CocoBoxPrompts(PromptSource):
    """A COCO JSON with one ``images`` entry per image (videos: per prompted frame, ``frame_index``)."""

    def __init__(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8-sig") as f:
                doc = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PromptError(f"--boxes: cannot read {os.path.basename(path)} as COCO JSON: {exc}") from exc
        if not isinstance(doc, Mapping) or not isinstance(doc.get("images"), list) \
                or not isinstance(doc.get("annotations"), list):
            raise PromptError(f"--boxes: {os.path.basename(path)} needs 'images' and 'annotations' lists "
                              "(a COCO file that names the images its boxes are for)")
        cats = [c for c in doc.get("categories") or [] if isinstance(c, Mapping) and "id" in c and "name" in c]
        cat_names = {int(c["id"]): str(c["name"]) for c in sorted(cats, key=lambda c: int(c["id"]))}
        used_ids = sorted({a.get("category_id", 0) for a in doc["annotations"]
                           if isinstance(a, Mapping) and isinstance(a.get("category_id", 0), int)})
        names = list(cat_names.values()) + [f"category {i}" for i in used_ids if i not in cat_names]
        super().__init__("boxes", list(dict.fromkeys(names)) or ["object"])
        self._categories = [{"id": i, "name": n} for i, n in cat_names.items()]
        self._images: Dict[str, List[Mapping[str, Any]]] = defaultdict(list)
        for im in doc["images"]:
            if isinstance(im, Mapping) and isinstance(im.get("file_name"), str):
                self._images[im["file_name"]].append(im)
        self._anns: Dict[Any, List[Any]] = defaultdict(list)
        for a in doc["annotations"]:
            if isinstance(a, Mapping):
                self._anns[a.get("image_id")].append(a)
        self._names = _ByName(list(self._images))
        self._file = os.path.basename(path)

    def for_item(self, item: Item, hw: Tuple[int, int]) -> Optional[ItemPrompts]:
        name = self._names.find(item)
        if name is None:
            return None
        out = ItemPrompts()
        for entry in self._images[name]:
            frame = int(entry.get("frame_index", 0) or 0)
            sub = {"images": [entry], "annotations": self._anns.get(entry.get("id"), []),
                   "categories": self._categories}
            try:
                out.boxes.setdefault(frame, []).extend(parse_coco_detections(sub, hw, image_id=entry.get("id")))
            except BoxFileError as exc:
                raise BoxFileError(f"{self._file}, image {name}: {exc}") from None
        return out

    def names_without_items(self, items: Sequence[Item]) -> List[str]:
        return self._names.unmatched(items)


class YoloBoxPrompts(PromptSource):
    """A folder of YOLO label files, one per image."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        names: List[str] = []
        for candidate in ["classes.txt", "obj.names"] + sorted(glob.glob(os.path.join(folder, "*.names"))):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                with open(path, encoding="utf-8-sig") as f:
                    names = parse_class_names(f.read())
                break
        self.files = sorted(p for p in glob.glob(os.path.join(folder, "**", "*.txt"), recursive=True)
                            if os.path.basename(p) not in ("classes.txt",))
        if not names:
            top = -1
            for p in self.files:
                with open(p, encoding="utf-8-sig", errors="replace") as f:
                    for line in f:
                        head = line.split("#", 1)[0].split()
                        if head:
                            try:
                                top = max(top, int(float(head[0])))
                            except ValueError:
                                pass
            names = [f"class {i}" for i in range(top + 1)]
        self.names = names
        super().__init__("boxes", names or ["object"])
        rel = [os.path.relpath(p, folder).replace(os.sep, "/") for p in self.files]
        self._by_stem = _ByName([os.path.splitext(r)[0] for r in rel])

    def for_item(self, item: Item, hw: Tuple[int, int]) -> Optional[ItemPrompts]:
        stem_item = Item(os.path.splitext(item.key)[0], os.path.splitext(item.path)[0], item.kind)
        stem = self._by_stem.find(stem_item)
        if stem is None:
            return None
        path = os.path.join(self.folder, stem + ".txt")
        try:
            return ItemPrompts(boxes={0: read_box_file(path, hw, names=self.names or None)})
        except BoxFileError as exc:
            raise BoxFileError(f"{stem}.txt: {exc}") from None

    def names_without_items(self, items: Sequence[Item]) -> List[str]:
        stems = [Item(os.path.splitext(it.key)[0], os.path.splitext(it.path)[0], it.kind) for it in items]
        return [n + ".txt" for n in self._by_stem.unmatched(stems)]


class PointPrompts(PromptSource):
    def __init__(self, path: str) -> None:
        base = os.path.basename(path)
        try:
            with open(path, encoding="utf-8-sig") as f:
                doc = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PromptError(f"--points: cannot read {base} as JSON: {exc}") from exc
        if not isinstance(doc, Mapping):
            raise PromptError(f"--points: {base} must map image names to lists of objects "
                              '({"a.jpg": [{"points": [[x, y]], "labels": [1], "label": "car"}]})')
        self._objects: Dict[str, List[PointObject]] = {}
        problems: List[str] = []
        for name, objs in doc.items():
            objs = [objs] if isinstance(objs, Mapping) else objs
            if not isinstance(objs, list):
                problems.append(f"{name}: expected a list of objects")
                continue
            parsed = []
            for i, obj in enumerate(objs):
                try:
                    parsed.append(_point_object(obj))
                except (TypeError, ValueError, KeyError) as exc:
                    problems.append(f"{name} object {i}: {exc}")
            self._objects[str(name)] = parsed
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise PromptError(f"--points: {base}: {'; '.join(problems[:5])}{more}")
        labels = [o.label for objs in self._objects.values() for o in objs]
        super().__init__("points", list(dict.fromkeys(labels)) or ["object"])
        self._names = _ByName(list(self._objects))

    def for_item(self, item: Item, hw: Tuple[int, int]) -> Optional[ItemPrompts]:
        name = self._names.find(item)
        if name is None:
            return None
        h, w = hw
        out = ItemPrompts()
        for obj in self._objects[name]:
            outside = [p for p in obj.points if not (0 <= p[0] <= w and 0 <= p[1] <= h)]
            if outside:
                raise PromptError(f"points file, {name}: point {outside[0]} lies outside this {w}x{h} image")
            out.points.setdefault(obj.frame, []).append(obj)
        return out

    def names_without_items(self, items: Sequence[Item]) -> List[str]:
        return self._names.unmatched(items)


def _point_object(obj: Any) -> PointObject:
    if not isinstance(obj, Mapping) or "points" not in obj:
        raise ValueError('expected {"points": [[x, y], ...], "labels": [1, ...]}')
    pts = [(float(p[0]), float(p[1])) for p in obj["points"]]
    if not pts or any(len(p) != 2 for p in obj["points"]):
        raise ValueError("points must be a non-empty list of [x, y]")
    if not all(math.isfinite(v) for p in pts for v in p):
        raise ValueError("points must be finite numbers")
    labels = obj.get("labels", obj.get("point_labels", [1] * len(pts)))
    labels = [int(v) for v in labels]
    if len(labels) != len(pts) or any(v not in (0, 1) for v in labels):
        raise ValueError("labels must be one 0 (background) or 1 (foreground) per point")
    frame = int(obj.get("frame", 0))
    if frame < 0:
        raise ValueError("frame must be >= 0")
    return PointObject(tuple(pts), tuple(labels), str(obj.get("label") or "object"), frame)


def load_prompts(mode: str, *, text: Optional[str] = None, boxes: Optional[str] = None,
                 points: Optional[str] = None) -> PromptSource:
    """The prompt source of a run; ``PromptError`` names what is wrong."""
    if mode not in MODES:
        raise PromptError(f"prompt mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "text":
        return TextPrompts(text or "")
    if mode == "everything":
        return EverythingPrompts()
    path = boxes if mode == "boxes" else points
    if not path or not os.path.exists(path):
        raise PromptError(f"--{mode}: file not found: {path}")
    if mode == "points":
        return PointPrompts(path)
    if os.path.isdir(path):
        return YoloBoxPrompts(path)
    if path.lower().endswith(".txt"):
        raise PromptError("--boxes: a single YOLO .txt file has no image name; give the folder of label files "
                          "(one <image stem>.txt per image) or a COCO JSON")
    return CocoBoxPrompts(path)


__all__ = ["BoxFileError", "ItemPrompts", "MODES", "PointObject", "PromptError", "PromptSource", "load_prompts"]
