"""An open-vocabulary detector: an image and a few words in, labelled boxes out.

We do not write a detector: this wraps transformers' zero-shot object detection models.
The default is Grounding DINO tiny (``IDEA-Research/grounding-dino-tiny``, Apache-2.0:
the same licence as SAM 2's weights, 172M parameters, the detector of the best known
"text -> SAM" demos); OWLv2 (``google/owlv2-base-patch16-ensemble``) works too.

* ``transformers`` is imported only when a detector is loaded, so ``sam2`` and the app
  import without it; a missing package is a ``DetectorUnavailableError`` naming the fix.
* Weights come from the Hugging Face Hub on first use and from its cache afterwards, with
  the same offline behaviour and advice as SAM 2's checkpoints; a local folder (what
  ``save_pretrained`` writes, or ``huggingface-cli download <id> --local-dir DIR``) works
  without any network.
* Image processing uses transformers' PIL ("slow") processors: the fast ones need
  torchvision, which does not match the CPU-only torch build used here.

``TransformersDetector.detect`` returns one ``Detection`` per query box, its label being
the query label it matches best and its score that match's probability; choosing which
boxes become objects (threshold, duplicates, cap) is ``select_detections``'s job.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

from sam2.assembly import resolve_device
from sam2.find.detections import Detection
from sam2.find.query import grounding_prompt
from sam2.hub import hub_unreachable_reason

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
OWLV2_DETECTOR = "google/owlv2-base-patch16-ensemble"
# What a detector folder needs: configs, tokenizer files, safetensors weights.
_HUB_FILES = ["*.json", "*.txt", "*.safetensors", "*.model"]
_GROUNDING_TYPES = ("grounding-dino", "mm-grounding-dino")
_OWL_TYPES = ("owlv2",)  # OWL-ViT v1 scales boxes differently (no square padding): not supported


class DetectorUnavailableError(RuntimeError):
    """The detector cannot be used here (package missing, weights unreachable, bad folder)."""


@runtime_checkable
class ZeroShotDetector(Protocol):
    """Anything that finds boxes for words: the pipeline needs only this method."""

    def detect(self, image: np.ndarray, labels: Sequence[str]) -> List[Detection]:
        """Boxes (image pixels, XYXY) for ``labels`` in an H x W x 3 uint8 RGB image."""
        ...


def _import_transformers():
    try:
        import transformers
    except ImportError as exc:
        raise DetectorUnavailableError(
            "finding objects by text needs the `transformers` package: pip install -r requirements.txt "
            f"(or pip install 'transformers>=5,<6'). ({exc})"
        ) from exc
    return transformers


def _local_folder(name: str) -> Optional[str]:
    """``name`` as a local folder, None for a Hub id; a path that does not exist is an error."""
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        return expanded
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or name.count("/") != 1
    if looks_like_path or os.path.exists(name):
        raise DetectorUnavailableError(
            f"detector folder not found: {name} (expected a folder with config.json and model.safetensors, "
            "as written by save_pretrained or huggingface-cli download --local-dir)"
        )
    return None


def _hub_snapshot(repo_id: str) -> str:
    """Download (or find in the Hub cache) a detector's files; the folder they are in."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id=repo_id, allow_patterns=_HUB_FILES)
    except Exception as exc:
        raise DetectorUnavailableError(
            f"could not get the detector {repo_id}: {hub_unreachable_reason()} and it is not in the local "
            f"Hugging Face cache ({type(exc).__name__}: {exc}). Check the network connection, or download "
            f"it elsewhere with `huggingface-cli download {repo_id} --local-dir DIR`, copy DIR here and pass "
            "its path (load_detector('DIR'), or the app's detector setting)."
        ) from exc


def _slow_processor_options(transformers) -> dict:
    """Ask for the PIL image processors (no torchvision), in this transformers' words."""
    major = int(str(transformers.__version__).split(".")[0])
    return {"backend": "pil"} if major >= 5 else {"use_fast": False}


def load_detector(name: str = DEFAULT_DETECTOR, device: Any = None,
                  short_side: Optional[int] = None) -> "TransformersDetector":
    """Load a zero-shot detector from a Hub id or a local folder onto ``device``.

    ``device=None`` picks the same device as SAM 2's builders (CUDA, MPS, else CPU).
    ``short_side`` (Grounding DINO only): resize images to this short side instead of the
    model's 800 px, a speed knob for slow CPUs (the cost falls with the pixel count; how
    much detection quality is lost was not measured here). Raises
    ``DetectorUnavailableError`` with advice when it cannot be loaded.
    """
    transformers = _import_transformers()
    folder = _local_folder(name) or _hub_snapshot(name)
    try:
        processor = transformers.AutoProcessor.from_pretrained(folder, **_slow_processor_options(transformers))
        model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(folder)
    except Exception as exc:
        raise DetectorUnavailableError(
            f"could not load the detector {name}: {type(exc).__name__}: {exc}"
        ) from exc
    kind = str(getattr(model.config, "model_type", ""))
    if kind not in _GROUNDING_TYPES + _OWL_TYPES:
        raise DetectorUnavailableError(
            f"{name} is a {kind or 'unknown'} model; expected Grounding DINO or OWLv2"
        )
    target = resolve_device(device)
    return TransformersDetector(model.to(target).eval(), processor, name=name, short_side=short_side)


class TransformersDetector:
    """A transformers zero-shot detector (Grounding DINO or OWLv2) and its processor."""

    def __init__(self, model, processor, name: str = "", short_side: Optional[int] = None) -> None:
        self.model = model
        self.processor = processor
        self.name = name or str(getattr(model, "name_or_path", ""))
        self.kind = str(model.config.model_type)
        self._size = None  # the processor's own (800 px short side for Grounding DINO)
        if short_side is not None:
            if self.kind not in _GROUNDING_TYPES:
                raise ValueError(f"short_side applies to Grounding DINO only, not {self.kind}")
            if not 64 <= int(short_side) <= 2048:
                raise ValueError(f"short_side must be between 64 and 2048 pixels, got {short_side}")
            # The long side is bounded in the model's own proportion (800 : 1333).
            self._size = {"shortest_edge": int(short_side), "longest_edge": round(int(short_side) * 1333 / 800)}

    @property
    def device(self):
        return next(self.model.parameters()).device

    def detect(self, image: np.ndarray, labels: Sequence[str]) -> List[Detection]:
        """Every query box of the model with its best-matching label and that label's score."""
        import torch

        if not labels:
            return []
        rgb = np.ascontiguousarray(image)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        with torch.inference_mode():
            if self.kind in _GROUNDING_TYPES:
                scores, label_idx, boxes = self._grounding_dino(rgb, labels)
                scale = torch.tensor([w, h, w, h], dtype=torch.float32)
            else:
                scores, label_idx, boxes = self._owl(rgb, labels)
                side = float(max(h, w))  # OWLv2 pads the image to a square before predicting
                scale = torch.tensor([side, side, side, side])
        xyxy = _cxcywh_to_xyxy(boxes.float().cpu()) * scale
        xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, w)
        xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, h)
        out = []
        for box, score, k in zip(xyxy.tolist(), scores.float().cpu().tolist(), label_idx.cpu().tolist()):
            out.append(Detection(tuple(box), labels[k], score))
        return out

    def _grounding_dino(self, rgb: np.ndarray, labels: Sequence[str]):
        import torch

        text, spans = grounding_prompt(labels)
        sizing = {"size": self._size} if self._size else {}
        inputs = self.processor(images=rgb, text=text, return_tensors="pt", **sizing).to(self.device)
        outputs = self.model(**inputs)
        columns = _label_token_columns(self.processor.tokenizer, text, spans, inputs["input_ids"][0].tolist())
        probs = outputs.logits[0].float().sigmoid()  # queries x text tokens
        per_label = torch.stack([probs[:, cols].max(dim=1).values for cols in columns], dim=1)
        scores, label_idx = per_label.max(dim=1)
        return scores, label_idx, outputs.pred_boxes[0]

    def _owl(self, rgb: np.ndarray, labels: Sequence[str]):
        inputs = self.processor(text=[list(labels)], images=rgb, return_tensors="pt").to(self.device)
        outputs = self.model(**inputs)
        probs = outputs.logits[0].float().sigmoid()  # patches x labels
        scores, label_idx = probs.max(dim=1)
        return scores, label_idx, outputs.pred_boxes[0]


def _cxcywh_to_xyxy(boxes):
    import torch

    cx, cy, bw, bh = boxes.unbind(-1)
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=-1)


def _label_token_columns(tokenizer, text: str, spans: Sequence[Tuple[int, int]],
                         input_ids: Sequence[int]) -> List[List[int]]:
    """For each label, the positions of its tokens in the model's text input."""
    encoded = tokenizer(text, return_offsets_mapping=True)
    if list(encoded["input_ids"]) != list(input_ids):
        raise RuntimeError("the detector's tokenizer split the prompt differently from its processor")
    columns: List[List[int]] = []
    for start, end in spans:
        cols = [i for i, (a, b) in enumerate(encoded["offset_mapping"]) if b > a and a >= start and b <= end]
        if not cols:
            raise RuntimeError(f"no token of the prompt text {text[start:end]!r} survived tokenisation")
        columns.append(cols)
    return columns
