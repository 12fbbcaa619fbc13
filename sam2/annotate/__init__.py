"""Batch annotation: folders of images and videos in, COCO / YOLO masks out (``python -m sam2.annotate``).

One file per job: ``sources`` (INPUT -> items), ``prompts`` (text / boxes / points /
everything), ``worker`` (items -> masks, shared by both engines), ``pipeline`` (the local
engine: background decoding, same-size batches), ``engine_ray`` (Ray Data), ``writers``
(COCO RLE, YOLO-seg, PNG, per-video exports), ``files`` (atomic writes), ``manifest``
(what is done, for resuming), ``merge`` and ``summary`` (the end of a run), ``run``
(``annotate``, the Python entry point), ``__main__`` (the command line). Importing this
package imports neither Ray nor transformers.
"""

from sam2.annotate.files import OutputError
from sam2.annotate.options import AnnotateOptions, EverythingOptions
from sam2.annotate.prompts import PromptError
from sam2.annotate.run import annotate
from sam2.annotate.sources import InputError, Item, expand_input
from sam2.annotate.summary import Summary

__all__ = ["AnnotateOptions", "EverythingOptions", "InputError", "Item", "OutputError", "PromptError", "Summary",
           "annotate", "expand_input"]
