"""Detector boxes from elsewhere: COCO detections JSON and YOLO ``.txt`` files.

Both formats become ``Detection``s (XYXY pixels of the image they are for, a label, a
score) that the find pipeline turns into objects like a detector's boxes.

* COCO: a list of annotations ``{"bbox": [x, y, w, h], "category_id": k, "score": s}``
  (the detection-results format), or a whole document with ``annotations`` and optionally
  ``categories`` (names) and ``images`` (the size it was made for). One image's boxes:
  a file with several ``image_id``s is refused unless ``image_id`` says which.
* YOLO: one box per line, ``class cx cy w h [confidence]``, normalised to 0..1; class
  names from ``names`` (index = class) when given, else ``"class N"``.

A file made for another image (the size in ``images`` differs, or boxes lie outside the
image), or with malformed entries, raises ``BoxFileError``; its message names the file's
problem and, for YOLO, the line numbers. Nothing is half-read: either every box is good
or the file is refused.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from sam2.find.detections import Detection

#: Largest box file read (bytes): far above any one image's detections.
MAX_BOX_FILE_BYTES = 20 * 1024 * 1024
#: How far (fraction of the image side, at least 2 px) a box may stick out before the file is
#: taken to be for another image; smaller overshoots, common in detector output, are clipped.
OUTSIDE_TOLERANCE = 0.02
_SHOWN_PROBLEMS = 5

Names = Union[Sequence[str], Mapping[int, str], None]


class BoxFileError(ValueError):
    """A box file that cannot be used for this image; the message says why."""


def _problems(kind: str, problems: List[str], noun: str = "entry", nouns: str = "entries") -> BoxFileError:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
    return BoxFileError(f"{kind}: {len(problems)} bad {noun if len(problems) == 1 else nouns}: {shown}{more}. "
                        "Nothing was loaded.")


def _name_of(names: Names, class_id: int, default_prefix: str) -> str:
    if isinstance(names, Mapping):
        name = names.get(class_id)
    elif names is not None and 0 <= class_id < len(names):
        name = names[class_id]
    else:
        name = None
    name = str(name).strip() if name is not None else ""
    return name or f"{default_prefix} {class_id}"


def _check_inside(boxes: List[Tuple[float, float, float, float]], image_hw: Tuple[int, int], what: str,
                  where: List[str]) -> None:
    """Refuse boxes that lie outside the image by more than the tolerance."""
    h, w = int(image_hw[0]), int(image_hw[1])
    tol_x, tol_y = max(2.0, OUTSIDE_TOLERANCE * w), max(2.0, OUTSIDE_TOLERANCE * h)
    outside = [
        f"{where[i]} ({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        for i, (x0, y0, x1, y1) in enumerate(boxes)
        if x0 < -tol_x or y0 < -tol_y or x1 > w + tol_x or y1 > h + tol_y or x0 >= w or y0 >= h or x1 <= 0 or y1 <= 0
    ]
    if outside:
        more = f" and {len(outside) - 3} more" if len(outside) > 3 else ""
        raise BoxFileError(
            f"{what}: {len(outside)} of {len(boxes)} boxes lie outside this {w}x{h} image "
            f"({', '.join(outside[:3])}{more}): is the file for another image? Nothing was loaded."
        )


def _clip(box, image_hw) -> Tuple[float, float, float, float]:
    h, w = float(image_hw[0]), float(image_hw[1])
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w), min(max(y1, 0.0), h))


# ----------------------------------------------------------------------------- COCO
def parse_coco_detections(data: Any, image_hw: Tuple[int, int], names: Names = None,
                          image_id: Optional[int] = None) -> List[Detection]:
    """Detections of one image from a decoded COCO JSON (a list or a document)."""
    what = "COCO file"
    images: List[Any] = []
    categories: Dict[int, str] = {}
    if isinstance(data, Mapping):
        if "annotations" not in data:
            raise BoxFileError(f"{what}: no 'annotations' list (expected COCO detections). Nothing was loaded.")
        anns = data["annotations"]
        images = data.get("images") or []
        for cat in data.get("categories") or []:
            if isinstance(cat, Mapping) and "id" in cat and "name" in cat:
                cat_id = _number(cat["id"], int)
                if cat_id is not None:
                    categories[cat_id] = str(cat["name"])
    else:
        anns = data
    if not isinstance(anns, list):
        raise BoxFileError(f"{what}: expected a list of annotations with 'bbox'. Nothing was loaded.")
    if not isinstance(images, list):
        images = []
    ids = sorted({a.get("image_id") for a in anns if isinstance(a, Mapping) and a.get("image_id") is not None},
                 key=str)
    if image_id is None and len(ids) > 1:
        shown = ", ".join(str(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise BoxFileError(f"{what}: it holds boxes for {len(ids)} images (image_id {shown}); "
                           "upload one image's detections. Nothing was loaded.")
    wanted = image_id if image_id is not None else (ids[0] if ids else None)
    _check_image_entry(images, wanted, image_hw, what)
    label_names = names if names is not None else categories
    problems: List[str] = []
    boxes, labels, scores, where = [], [], [], []
    for i, ann in enumerate(anns):
        tag = f"annotation {i}"
        if not isinstance(ann, Mapping):
            problems.append(f"{tag} is not an object")
            continue
        if wanted is not None and ann.get("image_id", wanted) != wanted:
            continue
        bbox = ann.get("bbox")
        try:
            x, y, bw, bh = (float(v) for v in bbox)
        except (TypeError, ValueError):
            problems.append(f"{tag}: bbox must be [x, y, width, height], got {str(bbox)[:40]}")
            continue
        if not all(math.isfinite(v) for v in (x, y, bw, bh)) or bw <= 0 or bh <= 0:
            problems.append(f"{tag}: bbox needs finite numbers and a positive width and height, got {bbox}")
            continue
        score = _number(ann.get("score", 1.0), float)
        if score is None or not math.isfinite(score):
            problems.append(f"{tag}: score must be a number, got {ann.get('score')!r}")
            continue
        cat = _number(ann.get("category_id", 0), int)
        if cat is None:
            problems.append(f"{tag}: category_id must be an integer, got {ann.get('category_id')!r}")
            continue
        label = str(ann["label"]) if isinstance(ann.get("label"), str) and ann["label"].strip() and names is None \
            else _name_of(label_names, cat, "category")
        boxes.append((x, y, x + bw, y + bh))
        labels.append(label)
        scores.append(score)
        where.append(f"annotation {i}")
    if problems:
        raise _problems(what, problems)
    _check_inside(boxes, image_hw, what, where)
    return [Detection(_clip(b, image_hw), lab, s) for b, lab, s in zip(boxes, labels, scores)]


def _number(value: Any, kind: type) -> Any:
    """``kind(value)`` for ``kind`` int or float, None when the value is not one (text, null,
    a list, or an infinity that JSON's 1e999 gives and ``int`` cannot take)."""
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _check_image_entry(images: List[Any], image_id: Any, image_hw: Tuple[int, int], what: str) -> None:
    """Refuse a file whose ``images`` entry gives another size than this image's."""
    entry = None
    for im in images:
        if isinstance(im, Mapping) and (image_id is None or im.get("id") == image_id):
            entry = im
            break
    if entry is None:
        return
    fw, fh = _number(entry.get("width"), int), _number(entry.get("height"), int)
    if fw is None or fh is None:
        return
    h, w = int(image_hw[0]), int(image_hw[1])
    if (fw, fh) != (w, h):
        name = entry.get("file_name")
        about = f" ({name})" if isinstance(name, str) and name else ""
        raise BoxFileError(f"{what}: it is for a {fw}x{fh} image{about}, this image is {w}x{h}. "
                           "Upload the detections made for this image. Nothing was loaded.")


# ----------------------------------------------------------------------------- YOLO
def parse_yolo_text(text: str, image_hw: Tuple[int, int], names: Names = None) -> List[Detection]:
    """Detections from YOLO label text (``class cx cy w h [confidence]`` per line)."""
    what = "YOLO file"
    h, w = int(image_hw[0]), int(image_hw[1])
    problems: List[str] = []
    boxes, labels, scores, where = [], [], [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").split()
        tag = f"line {number}"
        if len(fields) not in (5, 6):
            problems.append(f"{tag}: expected 'class cx cy w h [confidence]', got '{line[:40]}'")
            continue
        try:
            cls_value = float(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            problems.append(f"{tag}: not numbers: '{line[:40]}'")
            continue
        if not cls_value.is_integer() or cls_value < 0:
            problems.append(f"{tag}: the class must be a whole number >= 0, got {fields[0]}")
            continue
        if not all(math.isfinite(v) for v in values):
            problems.append(f"{tag}: not finite numbers: '{line[:40]}'")
            continue
        cx, cy, bw, bh = values[:4]
        if max(cx, cy, bw, bh) > 1.0 + 1e-6 or min(cx, cy) < -1e-6:
            problems.append(f"{tag}: cx cy w h must be normalised to 0..1 (these look like pixels): '{line[:40]}'")
            continue
        if bw <= 0 or bh <= 0:
            problems.append(f"{tag}: width and height must be positive: '{line[:40]}'")
            continue
        score = values[4] if len(values) == 5 else 1.0
        if not 0.0 <= score <= 1.0:
            problems.append(f"{tag}: the confidence must be between 0 and 1, got {fields[5]}")
            continue
        boxes.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        labels.append(_name_of(names, int(cls_value), "class"))
        scores.append(score)
        where.append(f"line {number}")
    if problems:
        raise _problems(what, problems, "line", "lines")
    _check_inside(boxes, image_hw, what, where)
    return [Detection(_clip(b, image_hw), lab, s) for b, lab, s in zip(boxes, labels, scores)]


def parse_class_names(text: str) -> List[str]:
    """Class names, one per line (a YOLO ``.names``/``classes.txt`` file) or comma-separated."""
    lines = [part.strip() for part in text.replace("\r", "").split("\n")]
    if len([p for p in lines if p]) <= 1:
        lines = [part.strip() for part in text.split(",")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# ----------------------------------------------------------------------------- files
def read_box_file(path: Union[str, os.PathLike], image_hw: Tuple[int, int], names: Names = None) -> List[Detection]:
    """Detections from a ``.json`` (COCO) or ``.txt`` (YOLO) file for an image of ``image_hw``.

    Other extensions are recognised by their content (JSON or not). Raises ``BoxFileError``.
    """
    path = os.fspath(path)
    base = os.path.basename(path)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise BoxFileError(f"box file not found: {base}") from None
    if size > MAX_BOX_FILE_BYTES:
        raise BoxFileError(f"{base} is {size / 2**20:.0f} MB; box files up to "
                           f"{MAX_BOX_FILE_BYTES // 2**20} MB are read. Nothing was loaded.")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BoxFileError(f"{base} is not a text file (expected COCO .json or YOLO .txt)") from None
    ext = os.path.splitext(base)[1].lower()
    if ext == ".json" or (ext != ".txt" and text.lstrip().startswith(("{", "["))):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BoxFileError(f"{base} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") \
                from None
        return parse_coco_detections(data, image_hw, names=names)
    return parse_yolo_text(text, image_hw, names=names)
