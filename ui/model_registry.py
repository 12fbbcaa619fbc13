"""Load each model once per process and share it between sessions.

Models come from the Hugging Face Hub (``sam2.build_sam.build_sam2_hf``; the Hub client
caches downloads) or from a local checkpoint given with ``--checkpoint`` for the model
named by ``--model``. Loading takes seconds to minutes, so it happens on first use, under
a per-model lock: two sessions asking for the same model at once wait for one load
instead of racing two. At most ``max_loaded`` models of each kind stay in memory.

A model object is shared by all sessions; only the per-image state (features) is per
session. Inference in several threads on one eval-mode module is safe in PyTorch.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from ui.model_names import default_model_id, model_label, resolve_model_id

ProgressFn = Callable[[Optional[float], str], None]


class ModelUnavailableError(RuntimeError):
    """The weights could not be obtained; the message tells the user what to do."""


def pick_device(requested: Optional[str] = None) -> str:
    """``requested`` if given (validated), else ``cuda`` when available, else ``cpu``."""
    import torch

    if requested and requested != "auto":
        dev = torch.device(requested)  # raises on nonsense such as "gpu"
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {requested}: CUDA is not available on this machine")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"--device {requested}: MPS is not available on this machine")
        return str(dev)
    return "cuda" if torch.cuda.is_available() else "cpu"


def _is_download_problem(exc: BaseException) -> bool:
    """True for errors meaning "could not fetch from the Hub" rather than a broken model."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        module = type(exc).__module__ or ""
        if type(exc).__name__ == "HubDownloadError":
            return True
        if module.startswith(("huggingface_hub", "httpx", "httpcore", "requests", "urllib3")):
            return True
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


# The app's video predictors: a correction click on an already tracked frame becomes a
# conditioning frame, so re-tracking keeps it (the reference's default would drop it).
VIDEO_OPTIONS = dict(add_all_frames_to_correct_as_cond=True)

def _hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001
        return os.path.expanduser("~/.cache/huggingface/hub")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference and where it came from."""

    model_id: str
    kind: str  # "image" (SAM2Base) or "video" (SAM2VideoPredictor)
    model: Any
    device: str
    source: str  # "hub" or the checkpoint path
    seconds: float


class ModelRegistry:
    """Process-wide cache of loaded models, keyed by (kind, model id)."""

    KINDS = ("image", "video")

    def __init__(
        self,
        device: Optional[str] = None,
        default_model: Optional[str] = None,
        checkpoint: Optional[str] = None,
        max_loaded: int = 2,
        precision: str = "auto",
    ) -> None:
        self.device = pick_device(device)
        from sam2.precision import PRECISIONS

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        # "auto": bfloat16 for the heavy layers where the hardware has native bfloat16 (see sam2.precision)
        self.precision = precision
        self.default_model = resolve_model_id(default_model or default_model_id(self.device))
        if checkpoint is not None and not os.path.exists(checkpoint):  # a file, or a transformers-layout folder
            raise ValueError(f"--checkpoint {checkpoint}: no such file or folder")
        self.checkpoint = checkpoint
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {max_loaded}")
        self.max_loaded = max_loaded
        self._models: "OrderedDict[Tuple[str, str], LoadedModel]" = OrderedDict()
        self._locks: Dict[Tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ queries
    def resolve(self, name: Optional[str]) -> str:
        return self.default_model if not name else resolve_model_id(name)

    def is_loaded(self, name: Optional[str], kind: str = "image") -> bool:
        with self._guard:
            return (kind, self.resolve(name)) in self._models

    def source_of(self, model_id: str) -> str:
        return self.checkpoint if (self.checkpoint and model_id == self.default_model) else "hub"

    # ------------------------------------------------------------------ loading
    def get(self, name: Optional[str], kind: str = "image", progress: Optional[ProgressFn] = None) -> LoadedModel:
        """The loaded model (loading it first if needed). Raises ``ModelUnavailableError``."""
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        model_id = self.resolve(name)
        key = (kind, model_id)
        with self._guard:
            hit = self._models.get(key)
            if hit is not None:
                self._models.move_to_end(key)
                return hit
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:  # another session may have loaded it while we waited
                hit = self._models.get(key)
                if hit is not None:
                    return hit
            loaded = self._load(model_id, kind, progress)
            with self._guard:
                self._models[key] = loaded
                self._evict(kind)
            return loaded

    def _evict(self, kind: str) -> None:
        same_kind = [k for k in self._models if k[0] == kind]
        while len(same_kind) > self.max_loaded:
            del self._models[same_kind.pop(0)]

    def _load(self, model_id: str, kind: str, progress: Optional[ProgressFn]) -> LoadedModel:
        from sam2 import build_sam

        source = self.source_of(model_id)
        what = "video model" if kind == "video" else "model"
        if progress is not None:
            where = "from the local checkpoint" if source != "hub" else "(first use downloads the weights)"
            progress(None, f"Loading {what} {model_label(model_id)} {where}...")
        t0 = time.perf_counter()
        try:
            if source != "hub":
                cfg_name = _config_for(model_id)
                if kind == "image":
                    model = build_sam.build_sam2(cfg_name, ckpt_path=source, device=self.device,
                                                 precision=self.precision)
                else:
                    model = build_sam.build_sam2_video_predictor(cfg_name, ckpt_path=source, device=self.device,
                                                                 precision=self.precision, **VIDEO_OPTIONS)
            elif kind == "image":
                model = build_sam.build_sam2_hf(model_id, device=self.device, precision=self.precision)
            else:
                model = build_sam.build_sam2_video_predictor_hf(model_id, device=self.device,
                                                                precision=self.precision, **VIDEO_OPTIONS)
        except Exception as exc:  # noqa: BLE001 - classified below
            if source == "hub" and _is_download_problem(exc):
                raise ModelUnavailableError(
                    f"Could not get the weights of {model_id} from the Hugging Face Hub and "
                    f"found no cached copy in {_hub_cache_dir()}. Check your internet "
                    "connection, or start the app with --checkpoint PATH pointing at a "
                    f"downloaded checkpoint. ({type(exc).__name__}: {exc})"
                ) from exc
            raise ModelUnavailableError(
                f"Could not load {model_id} from {source}: {type(exc).__name__}: {exc}"
            ) from exc
        return LoadedModel(model_id, kind, model, self.device, source, time.perf_counter() - t0)


def _config_for(model_id: str) -> str:
    from sam2.configs import HF_MODELS

    return HF_MODELS[model_id][0]
