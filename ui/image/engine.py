"""The image tab's only contact with the model: encode once, decode per prompt, AMG.

Each session owns a ``SAM2ImagePredictor`` (cheap: it only points at the shared model
and holds that session's image features), so ``set_image`` runs once per image per
session and every click afterwards is decoder-only.

On a ZeroGPU Space a GPU function runs in a forked worker and its side effects are lost,
so a predictor cannot keep features between calls: there the image is encoded again for
each prompt (``ui.common.spaces.ZERO_GPU``), inside one pure GPU call.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ui.common import spaces
from ui.image.state import EverythingResult, Prediction, PromptSet
from ui.models.registry import ModelRegistry
from ui.models.shared_registry import image_predictor, publish, published
from ui.common.progress import ProgressFn
from ui.common.packed_mask import PackedMask, PackedMasks
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.mask_generator_settings import MaskGeneratorSettings
from sam2.utils.amg import calculate_stability_score

#: Logit offset used for the stability score shown next to each candidate (as in the AMG).
STABILITY_OFFSET = 1.0

#: Work one "segment everything" request may cause, in prompts: the grid points of every
#: crop, plus ``ENCODE_PROMPTS`` per crop for its image encoding (which costs about as much
#: as a batch of 64 prompts). On the CPU 2048 is about 45 s of a free 2-core machine (22 ms
#: a prompt, 1.8 s an encoding of 1024x768, SAM 2.1 tiny; the largest reduced request,
#: 5x5 points on 21 crops, took 113 s on the VM while other jobs kept it at load 18);
#: ``SAM2_EVERYTHING_MAX_PROMPTS`` changes it, 0 means no limit (the default on CUDA).
CPU_MAX_PROMPTS = 2048
ENCODE_PROMPTS = 64

#: CPU threads segment everything leaves to other sessions' clicks. 0: measured on the
#: 2-core VM (bench/everything_contention.py, 16x16 points, 3 alternating pairs), running it
#: with one thread fewer made both worse: 20 s instead of 10 s for the run, and another
#: session's click 1-1.8 s instead of 60-100 ms (median) while it ran.
EVERYTHING_SPARE_THREADS = 0


def everything_budget(device: str) -> Optional[int]:
    """Most prompts one segment-everything request may cost on ``device`` (None: no limit)."""
    text = os.environ.get("SAM2_EVERYTHING_MAX_PROMPTS", "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"SAM2_EVERYTHING_MAX_PROMPTS={text!r} is not a whole number") from None
        return value if value > 0 else None
    return None if str(device).startswith("cuda") else CPU_MAX_PROMPTS


@dataclass
class Embedding:
    """An image encoded by one model for one session (a predictor with the image set)."""

    model_id: str
    predictor: Any  # SAM2ImagePredictor with set_image done; None on ZeroGPU
    image: np.ndarray
    seconds: float


@dataclass(frozen=True)
class EverythingParams(MaskGeneratorSettings):
    """The generator's settings as the image tab runs them: the library's checked knobs plus the
    server's work budget (``work``, ``within``)."""

    @property
    def work(self) -> int:
        """The cost measure that ``everything_budget`` bounds (see ``CPU_MAX_PROMPTS``)."""
        return self.prompts + ENCODE_PROMPTS * self.crops

    def within(self, budget: Optional[int]) -> Tuple["EverythingParams", str]:
        """These settings, or the nearest cheaper ones that fit ``budget`` and a note saying so.

        Fewer points per side first (the crop layers the user asked for stay), then fewer
        crop layers if even one point per crop is too much.
        """
        if budget is None or self.work <= budget:
            return self, ""
        fitted = self
        while fitted.crop_n_layers > 0 and replace(fitted, points_per_side=1).work > budget:
            fitted = replace(fitted, crop_n_layers=fitted.crop_n_layers - 1)
        side = int(math.isqrt(max(budget // fitted.crops - ENCODE_PROMPTS, 1)))
        fitted = replace(fitted, points_per_side=max(1, min(side, self.points_per_side)))
        layers = f" and {fitted.crop_n_layers} crop layer{'s' if fitted.crop_n_layers != 1 else ''}"
        note = (f"{self.points_per_side}x{self.points_per_side} points with {self.crop_n_layers} crop layer"
                f"{'s' if self.crop_n_layers != 1 else ''} would be {self.prompts:,} prompts; this server runs "
                f"at most about {budget:,} per request (each crop also costs {ENCODE_PROMPTS}), so this run "
                f"uses {fitted.points_per_side}x{fitted.points_per_side} points{layers}.")
        return fitted, note


def mask_as_logits(mask: np.ndarray, strength: float = 10.0) -> np.ndarray:
    """A finished mask as the decoder's 256x256 low-resolution logits (+strength inside,
    -strength outside), so that "refine" can feed it back like a predicted mask. The model
    sees the image stretched to a square, so the mask is too."""
    from PIL import Image

    small = np.asarray(Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255).resize((256, 256), Image.Resampling.BILINEAR))
    return np.where(small >= 128, strength, -strength).astype(np.float32)


def stability_scores(logits: np.ndarray, threshold: float) -> np.ndarray:
    """Stability score of each candidate, on the decoder's own 256x256 logits.

    The full-resolution logits are a bilinear upsampling of these, so the score is nearly
    the same, at 1/30 of the cost on a 1800x1200 photo (it runs on every click).
    """
    import torch


    score = calculate_stability_score(torch.from_numpy(logits), threshold, STABILITY_OFFSET)
    return np.nan_to_num(score.float().numpy(), nan=0.0).astype(np.float32)


def _decode(predictor: Any, prompts: PromptSet, multimask: bool) -> Prediction:
    import torch

    coords, labels = prompts.point_arrays()
    mask_input = None if prompts.mask_input is None else prompts.mask_input[None, :, :]
    with torch.inference_mode():
        logits, iou, low_res = predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=prompts.box_array(),
            mask_input=mask_input,
            multimask_output=multimask and not prompts.is_refinement,
            return_logits=True,
        )
    logits = np.asarray(logits, dtype=np.float32)
    threshold = float(getattr(predictor, "mask_threshold", 0.0))
    return Prediction(
        masks=logits > threshold,
        iou=np.asarray(iou, dtype=np.float32).reshape(-1),
        stability=stability_scores(np.asarray(low_res, dtype=np.float32), threshold),
        low_res_logits=np.asarray(low_res, dtype=np.float32),
    )


# ZeroGPU entry points: module level, plain data in and out (``ui.models.shared_registry``).

@spaces.gpu(duration=60)
def _gpu_encode_and_decode(model_id: str, image: np.ndarray, prompts: PromptSet, multimask: bool) -> Prediction:
    predictor = image_predictor(published().get(model_id).model)
    predictor.set_image(image)
    return _decode(predictor, prompts, multimask)


@spaces.gpu(duration=120)
def _gpu_everything(model_id: str, image: np.ndarray, params: EverythingParams) -> List[dict]:
    return _everything(published().get(model_id).model, image, params)


@contextlib.contextmanager
def _cpu_threads(n: Optional[int]) -> Iterator[None]:
    """Torch CPU threads of the calling thread only, for the block (OpenMP's setting is per thread)."""
    import torch

    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _everything(model: Any, image: np.ndarray, params: EverythingParams,
                progress: Optional[Callable[[int, int], None]] = None, stop: Any = None) -> List[dict]:

    import torch

    generator = SAM2AutomaticMaskGenerator(model, output_mode="binary_mask", **params.generator_kwargs())
    with torch.inference_mode():
        return generator.generate(image, progress=progress, stop=stop)


class ImageEngine:
    """Encode / decode / segment-everything for the image tab, on top of a registry."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        publish(registry)
        #: Seconds the last encode took per model id: the canvas's "Preparing image…" estimate.
        self.encode_seconds: Dict[str, float] = {}

    def ensure_model(self, model_id: Optional[str], progress: Optional[ProgressFn] = None) -> str:
        """Load the model in this process (with progress) and return its id."""
        return self.registry.get(model_id, "image", progress=progress).model_id

    def encode(self, model_id: str, image: np.ndarray) -> Embedding:
        t0 = time.perf_counter()
        if spaces.ZERO_GPU:
            return Embedding(model_id, None, image, 0.0)
        import torch

        predictor = image_predictor(self.registry.get(model_id).model)
        with torch.inference_mode():
            predictor.set_image(image)
        seconds = time.perf_counter() - t0
        self.encode_seconds[model_id] = seconds
        return Embedding(model_id, predictor, image, seconds)

    def predict(self, embedding: Embedding, prompts: PromptSet, multimask: bool = True) -> Prediction:
        if prompts.is_empty:
            raise ValueError("predict needs at least one point or a box")
        if embedding.predictor is None:
            return _gpu_encode_and_decode(embedding.model_id, embedding.image, prompts, multimask)
        return _decode(embedding.predictor, prompts, multimask)

    @property
    def everything_budget(self) -> Optional[int]:
        """Most work (``EverythingParams.work``) one segment-everything request may cost here."""
        return everything_budget(self.registry.device)

    def segment_everything(self, model_id: str, image: np.ndarray, params: EverythingParams,
                           progress: Optional[Callable[[int, int], None]] = None,
                           stop: Any = None) -> EverythingResult:
        """Run the generator; ``progress(batches done, total)`` after each batch, and
        ``stop`` (a ``threading.Event``) ends it with ``GenerationCancelled`` within a batch.

        Other sessions' clicks go on meanwhile (decoder-only, 60-100 ms on the 2-core VM
        during a run; see ``EVERYTHING_SPARE_THREADS``). (ZeroGPU runs it in a forked GPU
        worker: no progress or cancel there; the GPU call's own time limit bounds it.)
        """
        params = params.validated()
        t0 = time.perf_counter()
        if spaces.ZERO_GPU:
            records = _gpu_everything(model_id, image, params)
        else:
            import torch

            model = self.registry.get(model_id).model
            on_cpu = not str(self.registry.device).startswith(("cuda", "mps"))
            threads = max(1, torch.get_num_threads() - EVERYTHING_SPARE_THREADS) if on_cpu else None
            with _cpu_threads(threads):
                records = _everything(model, image, params, progress, stop)
        records = sorted(records, key=lambda r: -int(r["area"]))
        # Packed one by one as they leave the records: the full-size arrays go as they are packed.
        masks = PackedMasks([PackedMask.pack(np.asarray(r.pop("segmentation"), dtype=bool)) for r in records],
                            image.shape[:2])
        return EverythingResult(masks=masks, records=records, seconds=time.perf_counter() - t0)
