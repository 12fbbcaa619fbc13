"""Turn a config name and a checkpoint into a ready model: config options, weights, device,
precision and mode. What ``sam2.build_sam``'s builders and the predictors' ``from_pretrained``
share; it imports no predictor, and no predictor imports the builders.

No hydra: configurations are the dataclasses of ``sam2.configs``. The official
``hydra_overrides_extra`` strings of the form ``++model.<field>=<value>`` (and
``++model.sam_mask_decoder_extra_args.<option>=<value>``) are still understood, so scripts
that pass them keep working.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import sys
from typing import Iterable, Optional, Type, TypeVar, Union

import torch

from sam2 import hub
from sam2.checkpoint import load_checkpoint
from sam2.configs import MaskDecoderOptions, SAM2Config, get_config
from sam2.modeling.sam2_base import SAM2Base
from sam2.precision import resolve_compute_dtype, weights_are_int8

logger = logging.getLogger(__name__)

DeviceLike = Union[str, torch.device, None]
M = TypeVar("M", bound=torch.nn.Module)

# Options the official builders switch on with apply_postprocessing=True.
_IMAGE_POSTPROCESSING = dict(
    dynamic_multimask_via_stability=True,
    dynamic_multimask_stability_delta=0.05,
    dynamic_multimask_stability_thresh=0.98,
)


def default_device() -> torch.device:
    """CUDA if available, else Apple MPS, else the CPU (the reference assumes CUDA)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: DeviceLike) -> torch.device:
    if device is None or device == "auto":
        return default_device()
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available; use device=None or 'cpu'")
    return device


def _parse_value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def apply_overrides(config: SAM2Config, overrides: Iterable[str]) -> SAM2Config:
    """Apply official-style ``++model.<field>=<value>`` override strings to a config."""
    top, decoder = {}, {}
    for item in overrides or ():
        key, sep, value = item.lstrip("+").partition("=")
        if not sep or not key.startswith("model."):
            raise ValueError(f"unsupported config override {item!r}; expected '++model.<field>=<value>'")
        key = key[len("model."):]
        if key.startswith("sam_mask_decoder_extra_args."):
            decoder[key.split(".", 1)[1]] = _parse_value(value)
        elif key == "_target_" or key == "compile_image_encoder":
            continue  # choosing the class is the builder's job; compilation is a speed option
        elif key in SAM2Config.__dataclass_fields__:
            top[key] = _parse_value(value)
        else:
            raise ValueError(f"unknown SAM 2 config field in override {item!r}")
    if decoder:
        top["mask_decoder"] = dataclasses.replace(config.mask_decoder, **decoder)
    return dataclasses.replace(config, **top) if top else config


def release_freed_memory() -> None:
    """Give the pages of freed tensors back to the OS (Linux/glibc; elsewhere nothing).

    The float32 weights that int8 replaces are freed layer by layer, but glibc keeps most
    of a freed heap for reuse, so the process would still hold their memory (SAM 2.1
    large: resident 690 MB instead of 300 MB after quantizing). ``malloc_trim`` returns it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl): nothing to trim this way
        pass


def finish_model(model: torch.nn.Module, ckpt_path, device: DeviceLike, mode: str, precision: str) -> torch.nn.Module:
    if ckpt_path is not None:
        load_checkpoint(model, ckpt_path)
    else:
        logger.warning("no checkpoint given: the SAM 2 model has untrained (random) weights")
    device = resolve_device(device)
    compute_dtype = resolve_compute_dtype(precision, device)  # refuses an unknown name before any work
    if weights_are_int8(precision):
        from sam2.modeling.int8 import quantize_model_

        # on the CPU, before the move: the device then receives a quarter of the bytes
        summary = quantize_model_(model)
        release_freed_memory()
        logger.info("int8 weights: %d layers, %.0f -> %.0f MB", summary.layers,
                    summary.bytes_before / 1e6, summary.bytes_after / 1e6)
    model = model.to(device)
    model.set_compute_dtype(compute_dtype)
    if mode == "eval":
        model.eval()
    elif mode != "train":
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    return model


def image_config(config_file: str, apply_postprocessing: bool = True, overrides: Iterable[str] = ()) -> SAM2Config:
    cfg = get_config(config_file)
    if apply_postprocessing:
        cfg = dataclasses.replace(cfg, mask_decoder=MaskDecoderOptions(**_IMAGE_POSTPROCESSING))
    return apply_overrides(cfg, overrides)


def video_config(config_file: str, apply_postprocessing: bool = True, overrides: Iterable[str] = ()) -> SAM2Config:
    cfg = image_config(config_file, apply_postprocessing)
    if apply_postprocessing:
        # Encode clicked frames' masks binarised, as the user sees them, and fill holes of up
        # to 8 low-res pixels before masks are resized to the video resolution.
        cfg = dataclasses.replace(cfg, binarize_mask_from_pts_for_mem_enc=True, fill_hole_area=8)
    return apply_overrides(cfg, overrides)


def build_image_model(
    config_file: str,
    ckpt_path: Optional[str] = None,
    device: DeviceLike = None,
    mode: str = "eval",
    hydra_overrides_extra: Iterable[str] = (),
    apply_postprocessing: bool = True,
    precision: str = "exact",
    **kwargs,
):
    """Build the SAM 2 image model (``SAM2Base``) for ``config_file`` and load ``ckpt_path``.

    ``config_file`` may be ``"configs/sam2.1/sam2.1_hiera_l.yaml"``, ``"sam2.1_hiera_l.yaml"``
    or ``"sam2.1_hiera_l"``; ``device=None`` picks CUDA, then MPS, then the CPU.
    ``precision``: ``"exact"`` (float32, the reference's numbers), ``"fast"`` or ``"auto"``
    (bfloat16 image encoder where the hardware has native bfloat16), or ``"int8"`` (8-bit
    linear and convolution weights, a quarter of the memory); see ``sam2.precision``.
    Extra keyword arguments are ignored. Public as ``sam2.build_sam.build_sam2``.
    """
    cfg = image_config(config_file, apply_postprocessing, hydra_overrides_extra)
    return finish_model(SAM2Base(cfg), ckpt_path, device, mode, precision)


def build_video_model(
    cls: Type[M],
    config_file: str,
    ckpt_path: Optional[str] = None,
    device: DeviceLike = None,
    mode: str = "eval",
    hydra_overrides_extra: Iterable[str] = (),
    apply_postprocessing: bool = True,
    vos_optimized: bool = False,
    precision: str = "exact",
    **kwargs,
) -> M:
    """A video predictor of class ``cls`` (``SAM2VideoPredictor`` or a subclass) built like
    ``sam2.build_sam.build_sam2_video_predictor``; extra keyword arguments go to ``cls``."""
    cfg = video_config(config_file, apply_postprocessing, hydra_overrides_extra)
    if vos_optimized:
        logger.info("vos_optimized is accepted for compatibility; it has no separate code path here")
    return finish_model(cls(cfg, **kwargs), ckpt_path, device, mode, precision)


def build_image_model_hf(model_id: str, **kwargs):
    """The image model of a Hub checkpoint (``facebook/sam2.1-hiera-*``, ``facebook/EdgeTAM``),
    downloaded or found in the cache; keyword arguments as ``build_image_model``."""
    config_name, ckpt_path = hub.hf_download(model_id)
    return build_image_model(config_name, ckpt_path, **kwargs)


def build_video_model_hf(cls: Type[M], model_id: str, **kwargs) -> M:
    """A video predictor of class ``cls`` on a Hub checkpoint; keyword arguments as
    ``build_video_model``."""
    config_name, ckpt_path = hub.hf_download(model_id)
    return build_video_model(cls, config_name, ckpt_path, **kwargs)
