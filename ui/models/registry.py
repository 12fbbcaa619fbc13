"""Load each model once per process and share it between sessions.

Models come from the Hugging Face Hub (``sam2.build_sam.build_sam2_hf``; a file already in
the Hub client's cache is read directly) or from a local checkpoint given with
``--checkpoint`` for the model named by ``--model`` (built once at start-up by
``check_at_startup``, so a bad file is refused before anyone clicks). Loading takes seconds
to minutes, so it happens on first use, under a per-model lock: two sessions asking for
the same model at once wait for one load instead of racing two. At most ``max_loaded``
models of each kind stay in memory.

A model whose weights cannot be had (not cached and no Hub, or a broken file) fails once;
the failure is remembered for ``remember_s`` seconds (``ui.models.availability``), so every
later request answers at once and a retry after that can succeed when the network is back.

A model object is shared by all sessions; only the per-image state (features) is per
session. Inference in several threads on one eval-mode module is safe in PyTorch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ui.models.availability import (FIX_HINT, REMEMBER_S, HubProbe, cache_location, cached_checkpoint)
from ui.models.names import EDGETAM_MODEL, default_model_id, model_choices, model_label, resolve_model_id
from ui.common.progress import ProgressFn
from ui.common.errors import ModelUnavailableError

log = logging.getLogger("sam2.app")



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
    """Process-wide cache of loaded models, keyed by (kind, model id).

    It also knows which models can be had here (``unavailable_reason``, ``choices``) and
    remembers failures for ``remember_s`` seconds, so that a model whose weights are
    missing answers every later request at once instead of retrying the Hub each time.
    """

    KINDS = ("image", "video")

    def __init__(
        self,
        device: Optional[str] = None,
        default_model: Optional[str] = None,
        checkpoint: Optional[str] = None,
        max_loaded: int = 2,
        precision: str = "auto",
        hub: Optional[HubProbe] = None,
        remember_s: float = REMEMBER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = pick_device(device)
        from sam2.precision import PRECISIONS

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        # "auto": bfloat16 for the heavy layers where the hardware has native bfloat16 (see sam2.precision)
        self.precision = precision
        self.default_model = resolve_model_id(default_model or default_model_id(self.device))
        self.model_given = default_model is not None or checkpoint is not None  # --model / --checkpoint
        if checkpoint is not None and not os.path.exists(checkpoint):  # a file, or a transformers-layout folder
            raise ValueError(f"--checkpoint {checkpoint}: no such file or folder")
        self.checkpoint = checkpoint
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {max_loaded}")
        self.max_loaded = max_loaded
        self.hub = hub or HubProbe(remember_s=remember_s)
        self.remember_s = remember_s
        self._clock = clock
        self._models: "OrderedDict[Tuple[str, str], LoadedModel]" = OrderedDict()
        self._locks: Dict[Tuple[str, str], threading.Lock] = {}
        self._failures: Dict[str, Tuple[float, ModelUnavailableError]] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ queries
    def resolve(self, name: Optional[str]) -> str:
        return self.default_model if not name else resolve_model_id(name)

    def tracking_default(self) -> str:
        """The video tab's model when the user has chosen none: on a machine without a GPU
        the one that tracks fastest there (EdgeTAM), when its weights can be had (cached,
        the Hub answers, or ``--checkpoint`` is EdgeTAM's); else the app's default."""
        if self.model_given or self.device.startswith("cuda"):
            return self.default_model
        try:
            return self.require_available(EDGETAM_MODEL, remember=False)
        except ModelUnavailableError:
            return self.default_model

    def is_loaded(self, name: Optional[str], kind: str = "image") -> bool:
        with self._guard:
            return (kind, self.resolve(name)) in self._models

    def source_of(self, model_id: str) -> str:
        return self.checkpoint if (self.checkpoint and model_id == self.default_model) else "hub"

    def unavailable_reason(self, name: Optional[str]) -> Optional[str]:
        """None if the model can be used here, else a short tag for its label.

        No loading, and nothing recorded or logged: the dropdown asks this for all eight
        models on every page load.
        """
        try:
            self.require_available(name, remember=False)
        except ModelUnavailableError as exc:
            return "unavailable offline" if exc.offline else "failed to load"
        return None

    def choices(self) -> List[Tuple[str, str]]:
        """(label, id) pairs for the model dropdown; models that cannot load here say so."""
        out = []
        for label, model_id in model_choices():
            why = self.unavailable_reason(model_id)
            out.append((f"{label} — {why}" if why else label, model_id))
        return out

    def require_available(self, name: Optional[str], remember: bool = True) -> str:
        """The model id if its weights can be had; else ``ModelUnavailableError`` at once.

        Cheap: a loaded model, the local checkpoint or a cached file answer without any
        network; otherwise the Hub probe (remembered) decides. With ``remember``, a newly
        found failure is remembered and logged once.
        """
        model_id = self.resolve(name)
        with self._guard:
            if any(key[1] == model_id for key in self._models):
                return model_id
        known = self._known_failure(model_id)
        if known is not None:
            raise known.again()
        if self.source_of(model_id) != "hub" or cached_checkpoint(model_id) is not None:
            return model_id
        reason = self.hub.unreachable_reason()
        if reason is not None:
            err = self._offline_error(model_id, reason)
            raise (self._remember(err) if remember else err).again()
        return model_id

    def _known_failure(self, model_id: str) -> Optional[ModelUnavailableError]:
        with self._guard:
            hit = self._failures.get(model_id)
            if hit is None:
                return None
            at, err = hit
            expired = self._clock() - at >= self.remember_s
            if not expired and not (err.offline and cached_checkpoint(model_id) is not None):
                return err
            del self._failures[model_id]  # time to try again, or the weights have arrived
            return None

    def _remember(self, err: ModelUnavailableError) -> ModelUnavailableError:
        assert err.model_id is not None
        with self._guard:
            self._failures[err.model_id] = (self._clock(), err)
        log.warning("%s (remembered for %.0f s)", err.detail, self.remember_s)
        return err

    def _offline_error(self, model_id: str, reason: str) -> ModelUnavailableError:
        from sam2.configs import HF_MODELS

        file_name = HF_MODELS[model_id][1]
        return ModelUnavailableError(
            f"{model_label(model_id)} is unavailable: its weights are not on this server and {reason}. "
            f"To fix this, {FIX_HINT}.",
            detail=(f"Model {model_id} is unavailable: {file_name} is not in the Hugging Face cache "
                    f"({cache_location()}) and {reason}. To fix this, {FIX_HINT}."),
            model_id=model_id, offline=True,
        )

    # ------------------------------------------------------------------ start-up
    def check_at_startup(self) -> None:
        """Find out once, before serving, whether the default model can be had.

        With ``--checkpoint`` the model is built now (a bad file raises ``CheckpointError``
        here, not on a user's first click) and kept, so the first click is fast. Otherwise
        the log says where the weights will come from, or why they cannot.
        """
        model_id = self.default_model
        if self.checkpoint:
            t0 = time.perf_counter()
            model = self._build(model_id, "image", self.checkpoint)
            loaded = LoadedModel(model_id, "image", model, self.device, self.checkpoint, time.perf_counter() - t0)
            with self._guard:
                self._models[("image", model_id)] = loaded
            log.info("Loaded %s from %s in %.1f s", model_id, self.checkpoint, loaded.seconds)
            return
        try:
            self.require_available(model_id)
        except ModelUnavailableError:
            log.warning("The app starts anyway; actions that need %s will say it is unavailable.", model_id)
            return
        cached = cached_checkpoint(model_id)
        if cached:
            log.info("Model %s: cached at %s", model_id, cached)
        else:
            log.info("Model %s: not cached yet; the first use downloads it from the Hub into %s",
                     model_id, cache_location())

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
        self.require_available(model_id)  # answers at once when the weights are known to be missing
        with lock:
            with self._guard:  # another session may have loaded it while we waited
                hit = self._models.get(key)
                if hit is not None:
                    return hit
            self.require_available(model_id)  # or failed to, while we waited
            try:
                loaded = self._load(model_id, kind, progress)
            except ModelUnavailableError as exc:
                raise self._remember(exc).again() from exc.__cause__
            with self._guard:
                self._models[key] = loaded
                self._evict(kind)
            return loaded

    def _evict(self, kind: str) -> None:
        same_kind = [k for k in self._models if k[0] == kind]
        while len(same_kind) > self.max_loaded:
            del self._models[same_kind.pop(0)]

    def _build(self, model_id: str, kind: str, ckpt_path: Optional[str]) -> Any:
        """Build ``kind`` of ``model_id`` from a local file, or through the Hub when ``ckpt_path`` is None."""
        from sam2 import build_sam

        if ckpt_path is not None:
            cfg_name = _config_for(model_id)
            if kind == "image":
                return build_sam.build_sam2(cfg_name, ckpt_path=ckpt_path, device=self.device,
                                            precision=self.precision)
            return build_sam.build_sam2_video_predictor(cfg_name, ckpt_path=ckpt_path, device=self.device,
                                                        precision=self.precision, **VIDEO_OPTIONS)
        if kind == "image":
            return build_sam.build_sam2_hf(model_id, device=self.device, precision=self.precision)
        return build_sam.build_sam2_video_predictor_hf(model_id, device=self.device,
                                                       precision=self.precision, **VIDEO_OPTIONS)

    def _load(self, model_id: str, kind: str, progress: Optional[ProgressFn]) -> LoadedModel:
        source = self.source_of(model_id)
        # A cached file is read directly: asking the Hub first costs ~23 s of retries when
        # the network is down (the official checkpoints never change).
        path = source if source != "hub" else cached_checkpoint(model_id)
        what = "video model" if kind == "video" else "model"
        if progress is not None:
            where = "(first use downloads the weights)" if path is None else "from disk"
            progress(None, f"Loading {what} {model_label(model_id)} {where}...")
        t0 = time.perf_counter()
        try:
            model = self._build(model_id, kind, path)
        except Exception as exc:  # noqa: BLE001 - classified below
            if path is None and _is_download_problem(exc):
                reason = "the download from the Hugging Face Hub failed"
                self.hub.mark_unreachable(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
                err = self._offline_error(model_id, reason)
                err.detail += f" ({type(exc).__name__}: {exc})"
                raise err from exc
            raise ModelUnavailableError(
                f"{model_label(model_id)} could not be loaded here ({type(exc).__name__}; details in the "
                f"server log). To use another copy of the weights, {FIX_HINT}.",
                detail=f"Could not load {model_id} ({kind}) from {path or 'the Hub'}: {type(exc).__name__}: {exc}",
                model_id=model_id,
            ) from exc
        return LoadedModel(model_id, kind, model, self.device, source, time.perf_counter() - t0)


def _config_for(model_id: str) -> str:
    from sam2.configs import HF_MODELS

    return HF_MODELS[model_id][0]
