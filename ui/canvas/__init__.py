"""The interactive canvas both tabs draw on and click on (see ``component`` for how to use it)."""

from ui.canvas.component import END_PREPARING_JS, SHOW_PREPARING_JS, PromptCanvas
from ui.canvas.events import (
    EVENT_NAMES, BoxEvent, CanvasPayloadError, HistoryEvent, IndexEvent, ObjectEvent, PointEvent, StrokeEvent, UploadEvent,
    WindowEvent,
)
from ui.canvas.scene import (
    CanvasObject, CanvasUpdate, display_hw, file_ref, label_map_png, mask_png, picture_url, preparing_for,
)

__all__ = [
    "PromptCanvas", "END_PREPARING_JS", "SHOW_PREPARING_JS", "EVENT_NAMES", "BoxEvent", "CanvasPayloadError", "HistoryEvent", "IndexEvent", "ObjectEvent", "WindowEvent",
    "PointEvent", "StrokeEvent", "UploadEvent", "CanvasObject", "CanvasUpdate", "display_hw", "file_ref",
    "label_map_png", "mask_png", "picture_url", "preparing_for",
]
