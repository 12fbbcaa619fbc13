"""The eight official SAM 2 models and EdgeTAM under the names a user may type, and their labels.

The app speaks Hugging Face ids (``facebook/sam2.1-hiera-tiny``) internally; users may
also type ``sam2.1-hiera-tiny``, ``sam2.1_hiera_t``, ``sam2.1_hiera_tiny.pt``, a config
path, or just a size (``tiny``, ``small``, ``base-plus``, ``large``; SAM 2.1 assumed);
EdgeTAM is ``facebook/EdgeTAM`` or ``edgetam``.
"""

from __future__ import annotations

from typing import List, Tuple

from sam2.configs import HF_MODELS, config_name

DEFAULT_CPU_MODEL = "facebook/sam2.1-hiera-tiny"
DEFAULT_CUDA_MODEL = "facebook/sam2.1-hiera-large"
#: The model that tracks fastest without a GPU: the video tab's default there when it can load.
EDGETAM_MODEL = "facebook/EdgeTAM"

#: What EdgeTAM trades, in the papers' numbers (the model dropdown's info line).
EDGETAM_TRADE = ("EdgeTAM trades a little accuracy for speed: DAVIS 2017 J&F 87.7 vs 90.2 for SAM 2.1 B+, "
                 "22x faster on a phone; on this kind of CPU it tracks several times faster than SAM 2.1 tiny.")

_SIZES = {"tiny": "tiny", "t": "tiny", "small": "small", "s": "small", "base-plus": "base-plus",
          "base_plus": "base-plus", "b+": "base-plus", "large": "large", "l": "large"}


def model_ids() -> List[str]:
    """All Hugging Face ids: SAM 2.1, then EdgeTAM, then SAM 2, each family from tiny to large."""
    ids = list(HF_MODELS)
    return sorted(ids, key=lambda i: (0 if "sam2.1" in i else 1 if "hiera" not in i else 2, ids.index(i)))


def resolve_model_id(name: str) -> str:
    """The Hugging Face id for any accepted spelling; ``ValueError`` naming the choices."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name must be a non-empty string")
    text = name.strip()
    if text in HF_MODELS:
        return text
    lowered = text.lower()
    if lowered in _SIZES:
        return f"facebook/sam2.1-hiera-{_SIZES[lowered]}"
    if f"facebook/{lowered}" in HF_MODELS:
        return f"facebook/{lowered}"
    try:
        cfg = config_name(text)
    except ValueError:
        choices = ", ".join(model_ids())
        raise ValueError(
            f"unknown model {name!r}; use one of {choices} (or a short form such as "
            f"'sam2.1-hiera-tiny', 'sam2_hiera_l' or 'large')"
        ) from None
    for model_id, (cfg_name, _) in HF_MODELS.items():
        if cfg_name == cfg:
            return model_id
    raise ValueError(f"model {name!r} has no Hugging Face id")  # pragma: no cover


def model_label(model_id: str) -> str:
    """``facebook/sam2.1-hiera-base-plus`` -> ``SAM 2.1 · base-plus``."""
    short = model_id.split("/", 1)[-1]
    if "-hiera-" not in short:
        return short  # EdgeTAM
    family, size = short.split("-hiera-", 1)
    return f"{'SAM 2.1' if family == 'sam2.1' else 'SAM 2'} · {size}"


def model_choices() -> List[Tuple[str, str]]:
    """(label, id) pairs for a dropdown."""
    return [(model_label(i), i) for i in model_ids()]


def default_model_id(device: str) -> str:
    return DEFAULT_CUDA_MODEL if str(device).startswith("cuda") else DEFAULT_CPU_MODEL


def fastest_tracking_note(model_id: str, device: str) -> str:
    """The line near the video player when the tab tracks with EdgeTAM by default."""
    where = "this CPU" if str(device) == "cpu" else f"this {device} device"
    return (f"Tracking with {model_label(model_id)}, the fastest model on {where}; "
            "pick another in **Model**.")


#: Seconds per tracked frame with one object on a CPU, measured on the project's 2-core VM
#: (``bench/bench.py --what video``, docs/speed.md): (model, fast?) -> seconds.
#: Only the order of magnitude is promised to a user; more objects cost about that much each.
CPU_SECONDS_PER_FRAME = {
    (DEFAULT_CPU_MODEL, False): 6.0, (DEFAULT_CPU_MODEL, True): 1.8,
    (EDGETAM_MODEL, False): 0.9, (EDGETAM_MODEL, True): 0.45,
}


def tracking_fallback_note(model_id: str, fast: bool, why: str) -> str:
    """The line near the video player when EdgeTAM, the fastest tracker on a CPU, cannot be
    had and the tab tracks with ``model_id`` instead: what happened and what it costs."""
    line = f"⚠️ EdgeTAM, the fastest tracker on this CPU, is unavailable ({why}); tracking uses {model_label(model_id)}"
    slow, quick = CPU_SECONDS_PER_FRAME.get((model_id, fast)), CPU_SECONDS_PER_FRAME[(EDGETAM_MODEL, fast)]
    if slow is None:
        return line + "."
    return (f"{line}, about {slow:g} s a frame per object instead of about {quick:g} s "
            f"({'fast' if fast else 'exact'} mode on a 2-core CPU).")
