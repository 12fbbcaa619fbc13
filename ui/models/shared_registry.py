"""The app's model registry as the GPU entry points see it, and the image predictor they make.

On a ZeroGPU Space the work runs in a forked GPU worker through module-level functions that
take plain data; they find the loaded models through the one registry published here when
the app is built (before any worker is forked). The image engine and Find both use it.
"""

from __future__ import annotations

from typing import Any, Optional

from ui.models.registry import ModelRegistry
from sam2.sam2_image_predictor import SAM2ImagePredictor

_published: Optional[ModelRegistry] = None


def publish(registry: ModelRegistry) -> None:
    """Make ``registry`` the one the GPU entry points use (the image engine does this)."""
    global _published
    _published = registry


def published() -> ModelRegistry:
    if _published is None:
        raise RuntimeError("No model registry was published: build the image engine first.")
    return _published


def image_predictor(model: Any) -> Any:
    """A fresh ``SAM2ImagePredictor`` over a loaded model (cheap: it shares the weights)."""
    return SAM2ImagePredictor(model)
