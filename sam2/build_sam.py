"""Builders with the official signatures: a config name (+ checkpoint) in, a ready model out.

The work is done by ``sam2.assembly`` (configs, weights, device, precision) and ``sam2.hub``
(Hub downloads), which the predictors' ``from_pretrained`` use too; this module imports the
predictors, never the reverse. No hydra: configurations are the dataclasses of
``sam2.configs``; official ``++model.<field>=<value>`` override strings are understood.
"""

from __future__ import annotations

from typing import Iterable, Optional

from sam2.assembly import (
    DeviceLike, apply_overrides, build_image_model, build_image_model_hf, build_video_model, build_video_model_hf,
    default_device, image_config, resolve_device, video_config,
)
from sam2.checkpoint import CheckpointError
from sam2.configs import HF_MODELS
from sam2.hub import HubDownloadError, hf_download, hub_unreachable_reason
from sam2.sam2_video_predictor import SAM2VideoPredictor


#: The official name and signature; the work is ``sam2.assembly.build_image_model``.
build_sam2 = build_image_model


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
    return build_video_model(SAM2VideoPredictor, config_file, ckpt_path=ckpt_path, device=device, mode=mode,
                             hydra_overrides_extra=hydra_overrides_extra, apply_postprocessing=apply_postprocessing,
                             vos_optimized=vos_optimized, precision=precision, **kwargs)


build_sam2_hf = build_image_model_hf


def build_sam2_video_predictor_hf(model_id: str, **kwargs):
    return build_video_model_hf(SAM2VideoPredictor, model_id, **kwargs)


__all__ = [
    "CheckpointError", "HubDownloadError", "build_sam2", "build_sam2_hf", "build_sam2_video_predictor",
    "build_sam2_video_predictor_hf", "default_device", "hf_download", "HF_MODELS", "apply_overrides",
    "image_config", "video_config", "resolve_device", "hub_unreachable_reason",
]
