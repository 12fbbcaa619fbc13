"""Find and count: an open-vocabulary detector's boxes (or boxes from a file) -> SAM 2 masks.

One file per job: ``query`` (text -> labels), ``detector`` (transformers' Grounding DINO /
OWLv2, imported lazily), ``box_files`` (COCO / YOLO parsing), ``detections`` (threshold,
duplicates, cap), ``pipeline`` (boxes -> one batched SAM 2 call -> records). Importing this
package does not import ``transformers``.
"""

from sam2.find.box_files import BoxFileError, parse_class_names, parse_coco_detections, parse_yolo_text, read_box_file
from sam2.find.detections import (
    DEFAULT_NMS_IOU,
    DEFAULT_THRESHOLD,
    MAX_OBJECTS,
    Detection,
    Selection,
    select_detections,
)
from sam2.find.detector import (
    DEFAULT_DETECTOR,
    OWLV2_DETECTOR,
    DetectorUnavailableError,
    TransformersDetector,
    ZeroShotDetector,
    load_detector,
)
from sam2.find.pipeline import FindResult, FoundObject, coco_categories, find_boxes, find_objects
from sam2.find.query import MAX_LABELS, MAX_QUERY_CHARS, QueryError, grounding_prompt, parse_query

__all__ = [
    "BoxFileError", "DEFAULT_DETECTOR", "DEFAULT_NMS_IOU", "DEFAULT_THRESHOLD", "Detection", "DetectorUnavailableError",
    "FindResult", "FoundObject", "MAX_LABELS", "MAX_OBJECTS", "MAX_QUERY_CHARS", "OWLV2_DETECTOR", "QueryError",
    "Selection", "TransformersDetector", "ZeroShotDetector", "coco_categories", "find_boxes", "find_objects",
    "grounding_prompt", "load_detector", "parse_class_names", "parse_coco_detections", "parse_query",
    "parse_yolo_text", "read_box_file", "select_detections",
]
