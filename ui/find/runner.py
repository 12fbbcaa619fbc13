"""Where Find's model work runs: in this process, or inside a ``spaces.GPU`` function on ZeroGPU.

The detector and SAM 2 need the GPU, and on a ZeroGPU Space the GPU exists only inside
functions decorated with ``spaces.GPU`` (``ui.common.spaces.gpu``). Such a function runs in a
worker forked from this process and gets its arguments pickled, so only plain data
crosses: the finder's key (the worker finds the finder, hence the detector, in the table
it inherited; a detector not loaded yet when it was forked is loaded there), the SAM 2
model's id (the worker gets the model from the image engine's registry, as
``ui.image.engine`` does for clicks), the image, the labels or boxes and the limits. The
result (``FindResult`` or boxes, numpy inside) comes back pickled. Features cannot survive
between GPU calls, so the image is encoded inside the call.

Everywhere else the same entry points run the pipeline in place under
``torch.inference_mode`` and nothing changes. ``ui.find.finder`` is the only caller.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from sam2.find import Detection, FindResult, Selection, find_boxes, find_objects
from ui.common import spaces
from ui.models.shared_registry import image_predictor, published
from ui.models.names import model_choices

# Finders by key. Made when the app is built, before any GPU worker is forked, so a forked
# worker holds the same table. Weak: a finder a test drops goes away with its detector.
_FINDERS: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()
_KEYS = itertools.count(1)


def register(finder: Any) -> int:
    """The key under which a GPU call finds ``finder`` again (``ui.find.finder.Finder`` calls it once)."""
    key = next(_KEYS)
    _FINDERS[key] = finder
    return key


def _finder(key: int) -> Any:
    finder = _FINDERS.get(key)
    if finder is None:  # pragma: no cover - a finder made after the worker was forked
        raise RuntimeError("Find's detector is not known in this GPU worker; restart the Space.")
    return finder


def _model_id_of(model: Any) -> str:
    """The registry's id of a loaded SAM 2 image model (so the GPU worker can get it by name)."""
    registry = published()
    ids = [registry.default_model] + [model_id for _, model_id in model_choices()]
    for model_id in dict.fromkeys(ids):
        if registry.is_loaded(model_id) and registry.get(model_id).model is model:
            return model_id
    raise RuntimeError("Find was given a SAM 2 model that the app's registry did not load.")


def run_find_objects(predictor: Any, image: np.ndarray, labels: Optional[Sequence[str]] = None, *,
                     boxes: Optional[Sequence[Detection]] = None, finder: Any = None,
                     threshold: float, max_objects: int, image_is_set: bool) -> FindResult:
    """``sam2.find.find_objects`` with the finder's detector (for ``labels``) or the given ``boxes``."""
    if spaces.ZERO_GPU:
        model_id = _model_id_of(predictor.model)
        key = finder.key if finder is not None else None
        return _gpu_find_objects(model_id, key, np.asarray(image), _plain(labels), _plain(boxes),
                                 float(threshold), int(max_objects))
    import torch

    detector = finder.detector() if finder is not None else None
    with torch.inference_mode():
        return find_objects(predictor, image, labels, boxes=boxes, detector=detector, threshold=threshold,
                            max_objects=max_objects, image_is_set=image_is_set, keep_low_res_logits=True)


def run_find_boxes(image: np.ndarray, labels: Optional[Sequence[str]] = None, *,
                   boxes: Optional[Sequence[Detection]] = None, finder: Any = None,
                   threshold: float, max_objects: int) -> Tuple[Tuple[str, ...], Selection]:
    """``sam2.find.find_boxes``: the detector's call goes to the GPU on ZeroGPU (given boxes need none)."""
    if spaces.ZERO_GPU and finder is not None:
        return _gpu_find_boxes(finder.key, np.asarray(image), _plain(labels), float(threshold), int(max_objects))
    import torch

    detector = finder.detector() if finder is not None else None
    with torch.inference_mode():
        return find_boxes(image, labels, boxes=boxes, detector=detector, threshold=threshold,
                          max_objects=max_objects)


def _plain(items: Optional[Sequence[Any]]) -> Optional[Tuple[Any, ...]]:
    return None if items is None else tuple(items)


# ZeroGPU entry points: module level (decorated at import), plain data in and out.
@spaces.gpu(duration=60)
def _gpu_find_objects(model_id: str, finder_key: Optional[int], image: np.ndarray,
                      labels: Optional[Tuple[str, ...]], boxes: Optional[Tuple[Detection, ...]],
                      threshold: float, max_objects: int) -> FindResult:
    import torch


    predictor = image_predictor(published().get(model_id).model)
    detector = _finder(finder_key).detector() if finder_key is not None else None
    with torch.inference_mode():
        return find_objects(predictor, image, labels, boxes=boxes, detector=detector, threshold=threshold,
                            max_objects=max_objects, image_is_set=False, keep_low_res_logits=True)


@spaces.gpu(duration=30)
def _gpu_find_boxes(finder_key: int, image: np.ndarray, labels: Optional[Tuple[str, ...]],
                    threshold: float, max_objects: int) -> Tuple[Tuple[str, ...], Selection]:
    import torch

    with torch.inference_mode():
        return find_boxes(image, labels, detector=_finder(finder_key).detector(), threshold=threshold,
                          max_objects=max_objects)
