"""Building the models a run needs from ``--model`` / ``--checkpoint`` / ``--device`` / ``--precision``.

Same names and defaults as the app: a Hub id or any short spelling (``tiny``,
``sam2.1_hiera_t``, ``facebook/EdgeTAM``); SAM 2.1 tiny on a CPU and large on CUDA; a
``--checkpoint`` file is used as is, without any network.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from sam2.configs import HF_MODELS, config_name

DEFAULT_CPU_MODEL = "facebook/sam2.1-hiera-tiny"
DEFAULT_CUDA_MODEL = "facebook/sam2.1-hiera-large"
_SIZES = {"tiny": "tiny", "t": "tiny", "small": "small", "s": "small", "base-plus": "base-plus",
          "base_plus": "base-plus", "b+": "base-plus", "large": "large", "l": "large"}


def resolve_model(name: Optional[str], device: str) -> Tuple[str, str]:
    """``(hub id, config name)`` for a model name (None: the device's default)."""
    if not name:
        name = DEFAULT_CUDA_MODEL if str(device).startswith("cuda") else DEFAULT_CPU_MODEL
    text = name.strip()
    if text.lower() in _SIZES:
        text = f"facebook/sam2.1-hiera-{_SIZES[text.lower()]}"
    elif f"facebook/{text.lower()}" in HF_MODELS:
        text = f"facebook/{text.lower()}"
    cfg = config_name(text)  # ValueError naming the choices
    for model_id, (cfg_name, _) in HF_MODELS.items():
        if cfg_name == cfg:
            return model_id, cfg
    return text, cfg  # pragma: no cover - every config has a Hub id


def pick_device(device: Optional[str]) -> str:
    from sam2.assembly import resolve_device

    return str(resolve_device(device or None))


def build_image_model(model: Optional[str], checkpoint: Optional[str], device: str, precision: str,
                      overrides: Sequence[str] = ()):
    from sam2 import assembly

    model_id, cfg = resolve_model(model, device)
    if checkpoint:
        return assembly.build_image_model(cfg, ckpt_path=checkpoint, device=device, precision=precision,
                                          hydra_overrides_extra=list(overrides))
    return assembly.build_image_model_hf(model_id, device=device, precision=precision,
                                         hydra_overrides_extra=list(overrides))


def build_video_predictor(model: Optional[str], checkpoint: Optional[str], device: str, precision: str,
                          overrides: Sequence[str] = ()):
    """The video predictor with the app's tracking options."""
    from sam2 import assembly
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    model_id, cfg = resolve_model(model, device)
    opts = dict(device=device, precision=precision, add_all_frames_to_correct_as_cond=True,
                hydra_overrides_extra=list(overrides))
    if checkpoint:
        return assembly.build_video_model(SAM2VideoPredictor, cfg, ckpt_path=checkpoint, **opts)
    return assembly.build_video_model_hf(SAM2VideoPredictor, model_id, **opts)
