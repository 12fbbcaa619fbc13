"""Builders with the official signatures: a config name (+ checkpoint) in, a ready model out.

The work is done by ``sam2.assembly`` (configs, weights, device, precision) and ``sam2.hub``
(Hub downloads), which the predictors' ``from_pretrained`` use too; this module imports the
predictors, never the reverse. No hydra: configurations are the dataclasses of
``sam2.configs``; official ``++model.<field>=<value>`` override strings are understood.
"""

from __future__ import annotations

from typing import Iterable, Optional

from sam2.assembly import (
    DeviceLike, apply_overrides, build_image_model, build_video_model, default_device, image_config,
    resolve_device, video_config,
)
from sam2.checkpoint import CheckpointError
from sam2.configs import HF_MODELS
from sam2.hub import HubDownloadError, hf_download, hub_unreachable_reason
from sam2.sam2_video_predictor import SAM2VideoPredictor


def build_sam2(
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
    (bfloat16 image encoder where the hardware has native bfloat16; see ``sam2.precision``).
    """
    return build_image_model(config_file, ckpt_path, device, mode, hydra_overrides_extra,
                             apply_postprocessing, precision, **kwargs)


def build_sam2_video_predictor(
    config_file: str,
    ckpt_path: Optional[str] = None,
    device: DeviceLike = None,
    mode: str = "eval",
    hydra_overrides_extra: Iterable[str] = (),
    apply_postprocessing: bool = True,
    vos_optimized: bool = False,
    precision: str = "exact",
    **kwargs,
):
    """Build a ``SAM2VideoPredictor``; extra keyword arguments go to its constructor
    (``fill_hole_area``, ``non_overlap_masks``, ``clear_non_cond_mem_around_input``,
    ``add_all_frames_to_correct_as_cond``, ...)."""
    return build_video_model(SAM2VideoPredictor, config_file, ckpt_path, device, mode, hydra_overrides_extra,
                             apply_postprocessing, vos_optimized, precision, **kwargs)


def build_sam2_hf(model_id: str, **kwargs):
    config_name, ckpt_path = hf_download(model_id)
    return build_sam2(config_file=config_name, ckpt_path=ckpt_path, **kwargs)


def build_sam2_video_predictor_hf(model_id: str, **kwargs):
    config_name, ckpt_path = hf_download(model_id)
    return build_sam2_video_predictor(config_file=config_name, ckpt_path=ckpt_path, **kwargs)


__all__ = [
    "CheckpointError", "HubDownloadError", "build_sam2", "build_sam2_hf", "build_sam2_video_predictor",
    "build_sam2_video_predictor_hf", "default_device", "hf_download", "HF_MODELS", "apply_overrides",
    "image_config", "video_config", "resolve_device", "hub_unreachable_reason",
]
