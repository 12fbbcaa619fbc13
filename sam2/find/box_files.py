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
image), or with malformed entries, raises ``BoxFileError``; its message starts with "COCO
file: " or "YOLO file: ", names the file's problem and, for YOLO, the line numbers. Nothing
is half-read: either every box is good or the file is refused.

Files come from anyone who can reach the app, so the costs are bounded before any parsing:
the file's size (``MAX_BOX_FILE_BYTES``), a JSON file's nesting depth (``MAX_JSON_DEPTH``,
checked by a scan of its brackets; a deep file would otherwise exhaust the parser's
recursion), and the number of boxes (``MAX_BOXES`` lines of a YOLO file, annotations of one
image in a COCO file; far above any detector's output for one picture). Labels are cut like
the app's object names (``clean_label``) and class ids above ``MAX_CLASS_ID`` are refused,
so a file cannot make labels that are sent back with every later click. Numbers must be
JSON numbers: a bbox given as the string "1234" is refused, not read digit by digit.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from sam2.find.detections import Detection

#: Largest box file read (bytes): far above any one image's detections.
MAX_BOX_FILE_BYTES = 20 * 1024 * 1024
#: Deepest JSON nesting read (a COCO document needs 4; polygons add 2).
MAX_JSON_DEPTH = 32
#: Most boxes in a file for one image (YOLO lines with a box, COCO annotations of the image).
MAX_BOXES = 10_000
#: Largest class / category id: ids are indexes into a list of names, not arbitrary numbers.
MAX_CLASS_ID = 1_000_000
#: Longest label kept (characters): the same cut as the app's object names.
MAX_LABEL_CHARS = 40
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


def clean_label(name: Any) -> str:
    """A label as the app keeps object names: whitespace runs collapsed, cut at
    ``MAX_LABEL_CHARS`` characters ("" for None)."""
    if name is None:
        return ""
    return " ".join(str(name)[: 4 * MAX_LABEL_CHARS + 64].split())[:MAX_LABEL_CHARS].strip()


def _name_of(names: Names, class_id: int, default_prefix: str) -> str:
    if isinstance(names, Mapping):
        name = names.get(class_id)
    elif names is not None and 0 <= class_id < len(names):
        name = names[class_id]
    else:
        name = None
    return clean_label(name) or f"{default_prefix} {class_id}"


def _json_number(value: Any) -> bool:
    """A JSON number (int or float; not a bool, not text that looks like one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _class_id(value: Any) -> Optional[int]:
    """A class / category id: a whole JSON number from 0 to ``MAX_CLASS_ID``, else None."""
    if not _json_number(value):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    number = int(value)
    return number if 0 <= number <= MAX_CLASS_ID else None


def _digits(value: int) -> int:
    """Decimal digits of ``value`` (estimated where Python refuses to print an int that long)."""
    try:
        return len(str(abs(value)))
    except ValueError:
        return int(abs(value).bit_length() * 0.30102999566398120) + 1


def _show(value: Any, limit: int = 40) -> str:
    """A value for a message: short, on one line."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 15:
        return f"a {_digits(value)}-digit number"
    text = " ".join(repr(value)[: 4 * limit].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _image_key(value: Any) -> bool:
    """Whether ``value`` can be an ``image_id`` (a number or a text, as COCO files use)."""
    return value is None or isinstance(value, str) or _json_number(value)


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
        cats = data.get("categories") or []
        if not isinstance(images, list):
            raise BoxFileError(f"{what}: 'images' must be a list of images, got {_show(images)}. Nothing was loaded.")
        if not isinstance(cats, list):
            raise BoxFileError(f"{what}: 'categories' must be a list of {{\"id\", \"name\"}} entries, got "
                               f"{_show(cats)}. Nothing was loaded.")
        for cat in cats:
            if isinstance(cat, Mapping) and "id" in cat and "name" in cat:
                cat_id = _class_id(cat["id"])
                if cat_id is not None:
                    categories[cat_id] = clean_label(cat["name"])
    else:
        anns = data
    if not isinstance(anns, list):
        raise BoxFileError(f"{what}: expected a list of annotations with 'bbox'. Nothing was loaded.")
    bad_ids = [i for i, a in enumerate(anns) if isinstance(a, Mapping) and not _image_key(a.get("image_id"))]
    if bad_ids:
        i = bad_ids[0]
        raise BoxFileError(f"{what}: annotation {i}: image_id must be a number or a text, got "
                           f"{_show(anns[i].get('image_id'))}. Nothing was loaded.")
    if image_id is not None and not _image_key(image_id):
        raise BoxFileError(f"{what}: image_id must be a number or a text, got {_show(image_id)}.")
    ids = sorted({a.get("image_id") for a in anns if isinstance(a, Mapping) and a.get("image_id") is not None},
                 key=str)
    if image_id is None and len(ids) > 1:
        shown = ", ".join(_show(i, 20) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise BoxFileError(f"{what}: it holds boxes for {len(ids)} images (image_id {shown}); "
                           "upload one image's detections. Nothing was loaded.")
    wanted = image_id if image_id is not None else (ids[0] if ids else None)
    _check_image_entry(images, wanted, image_hw, what)
    mine = [(i, a) for i, a in enumerate(anns)
            if not (isinstance(a, Mapping) and wanted is not None and a.get("image_id", wanted) != wanted)]
    if len(mine) > MAX_BOXES:
        raise BoxFileError(f"{what}: {len(mine)} annotations for one image; at most {MAX_BOXES} are read. "
                           "Nothing was loaded.")
    label_names = names if names is not None else categories
    problems: List[str] = []
    boxes, labels, scores, where = [], [], [], []
    for i, ann in mine:
        tag = f"annotation {i}"
        if not isinstance(ann, Mapping):
            problems.append(f"{tag} is not an object")
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(_json_number(v) for v in bbox):
            problems.append(f"{tag}: bbox must be [x, y, width, height] (4 numbers), got {_show(bbox)}")
            continue
        x, y, bw, bh = (float(v) for v in bbox)
        if not all(math.isfinite(v) for v in (x, y, bw, bh)) or bw <= 0 or bh <= 0:
            problems.append(f"{tag}: bbox needs finite numbers and a positive width and height, got {_show(bbox)}")
            continue
        score = ann.get("score", 1.0)
        if not _json_number(score) or not math.isfinite(float(score)):
            problems.append(f"{tag}: score must be a number, got {_show(score)}")
            continue
        raw_cat = ann.get("category_id", 0)
        cat = _class_id(raw_cat)
        if cat is None:
            problems.append(f"{tag}: category_id must be an integer, got {_show(raw_cat)} "
                            f"(ids go from 0 to {MAX_CLASS_ID})")
            continue
        own = clean_label(ann["label"]) if isinstance(ann.get("label"), str) and names is None else ""
        boxes.append((x, y, x + bw, y + bh))
        labels.append(own or _name_of(label_names, cat, "category"))
        scores.append(float(score))
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
        name = clean_label(entry.get("file_name")) if isinstance(entry.get("file_name"), str) else ""
        about = f" ({name})" if name else ""
        raise BoxFileError(f"{what}: it is for a {_show(fw, 20)}x{_show(fh, 20)} image{about}, this image is {w}x{h}. "
                           "Upload the detections made for this image. Nothing was loaded.")


# ----------------------------------------------------------------------------- YOLO
def parse_yolo_text(text: str, image_hw: Tuple[int, int], names: Names = None) -> List[Detection]:
    """Detections from YOLO label text (``class cx cy w h [confidence]`` per line)."""
    what = "YOLO file"
    h, w = int(image_hw[0]), int(image_hw[1])
    _check_line_count(text, what)
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
        if not math.isfinite(cls_value) or not cls_value.is_integer() or not 0 <= cls_value <= MAX_CLASS_ID:
            problems.append(f"{tag}: the class must be a whole number from 0 to {MAX_CLASS_ID}, got {fields[0][:20]}")
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
            problems.append(f"{tag}: the confidence must be between 0 and 1, got {fields[5][:20]}")
            continue
        boxes.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        labels.append(_name_of(names, int(cls_value), "class"))
        scores.append(score)
        where.append(f"line {number}")
    if problems:
        raise _problems(what, problems, "line", "lines")
    _check_inside(boxes, image_hw, what, where)
    return [Detection(_clip(b, image_hw), lab, s) for b, lab, s in zip(boxes, labels, scores)]


def _check_line_count(text: str, what: str) -> None:
    """Refuse a text with more than ``MAX_BOXES`` box lines before reading any of them
    (blank lines and comments, which hold no box, are not counted)."""
    lines = text.count("\n") + 1
    if lines <= MAX_BOXES:
        return
    boxes = sum(1 for raw in text.splitlines() if raw.split("#", 1)[0].strip())
    if boxes > MAX_BOXES:
        raise BoxFileError(f"{what}: {boxes} box lines; at most {MAX_BOXES} are read for one image. "
                           "Nothing was loaded.")


#: Most class names taken from a names text (far above any detector's classes).
MAX_CLASS_NAMES = 10_000


def parse_class_names(text: str) -> List[str]:
    """Class names, one per line (a YOLO ``.names``/``classes.txt`` file) or comma-separated;
    each cut like an object name (``clean_label``); at most ``MAX_CLASS_NAMES`` are kept."""
    text = text[: MAX_CLASS_NAMES * (MAX_LABEL_CHARS + 2)]
    lines = [clean_label(part) for part in text.replace("\r", "").split("\n")[:MAX_CLASS_NAMES + 1]]
    if len([p for p in lines if p]) <= 1:
        lines = [clean_label(part) for part in text.split(",")[:MAX_CLASS_NAMES + 1]]
    lines = lines[:MAX_CLASS_NAMES]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# ----------------------------------------------------------------------------- files
def json_depth(text: str) -> int:
    """How deeply ``text`` nests JSON arrays and objects, from a scan of its brackets outside
    strings (no parsing, so it is safe on any input; a bracket inside a string is skipped)."""
    outside = _JSON_STRING.sub("", text)
    brackets = outside.translate(_KEEP_BRACKETS)
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class _KeepBrackets(dict):
    """``str.translate`` table that keeps ``[]{}`` and deletes every other character."""

    def __missing__(self, key: int) -> Optional[int]:
        return key if chr(key) in "[]{}" else None


_KEEP_BRACKETS = _KeepBrackets()


def _kind_of(base: str, text: Optional[str] = None) -> str:
    """ "COCO file" or "YOLO file": by extension, else by content (JSON or not)."""
    ext = os.path.splitext(base)[1].lower()
    if ext == ".json":
        return "COCO file"
    if ext == ".txt" or text is None:
        return "YOLO file" if ext == ".txt" else "Box file"
    return "COCO file" if text.lstrip().startswith(("{", "[")) else "YOLO file"


def read_box_file(path: Union[str, os.PathLike], image_hw: Tuple[int, int], names: Names = None) -> List[Detection]:
    """Detections from a ``.json`` (COCO) or ``.txt`` (YOLO) file for an image of ``image_hw``.

    Other extensions are recognised by their content (JSON or not). Raises ``BoxFileError``
    (a ``ValueError``) and nothing else for any file content: its message starts with "COCO
    file: ", "YOLO file: " (or "Box file: " when not even the kind can be told).
    """
    path = os.fspath(path)
    base = clean_label(os.path.basename(path))
    what = _kind_of(base)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise BoxFileError(f"{what}: {base} was not found.") from None
    if size > MAX_BOX_FILE_BYTES:
        raise BoxFileError(f"{what}: {base} is {size / 2**20:.0f} MB; box files up to "
                           f"{MAX_BOX_FILE_BYTES // 2**20} MB are read. Nothing was loaded.")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BOX_FILE_BYTES + 1)
    except OSError:
        raise BoxFileError(f"{what}: {base} could not be read.") from None
    if len(raw) > MAX_BOX_FILE_BYTES:
        raise BoxFileError(f"{what}: {base} is larger than {MAX_BOX_FILE_BYTES // 2**20} MB; box files up to "
                           f"that size are read. Nothing was loaded.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BoxFileError(f"{what}: {base} is not a text file (expected COCO .json or YOLO .txt).") from None
    what = _kind_of(base, text)
    if what == "COCO file":
        return parse_coco_detections(_load_json(text, base), image_hw, names=names)
    return parse_yolo_text(text, image_hw, names=names)


def _load_json(text: str, base: str) -> Any:
    """``json.loads(text)`` once its nesting depth is known to be safe; ``BoxFileError``
    for anything that is not JSON (a number with thousands of digits included)."""
    what = "COCO file"
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise BoxFileError(f"{what}: {base} nests {depth} levels deep; COCO detections need a few, at most "
                           f"{MAX_JSON_DEPTH} are read. Nothing was loaded.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BoxFileError(f"{what}: {base} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg}).") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer beyond Python's digit limit
        raise BoxFileError(f"{what}: {base} could not be read as JSON ({_show(str(exc), 80)}).") from None
