"""Assemble the whole page: header, model selector, tabs, session cleanup.

``build_demo`` returns a ``gr.Blocks`` that has not been launched; ``launch_options``
returns what belongs to ``launch()`` in Gradio 6 (theme, css, upload limit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import gradio as gr

from ui.image_controller import ImageController
from ui.image_engine import ImageEngine
from ui.image_tab import EverythingDefaults, ImageTab
from ui.model_names import model_choices, model_label
from ui.model_registry import ModelRegistry

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_DIR = os.path.join(REPO_ROOT, "examples")

#: Largest accepted upload (images and videos).
MAX_FILE_SIZE = "200mb"

CSS = """
#image-canvas img { cursor: crosshair; }
#image-status p { margin: 0.15em 0; }
#video-canvas img { cursor: crosshair; }
#video-status p { margin: 0.15em 0; }
"""


@dataclass(frozen=True)
class AppConfig:
    """Command-line options that shape the app (see ``app.py --help``)."""

    model: Optional[str] = None  # Hub id or short name; None: tiny on CPU, large on CUDA
    checkpoint: Optional[str] = None  # local weights for ``model``
    device: Optional[str] = None  # None: CUDA when available
    examples_dir: Optional[str] = EXAMPLES_DIR
    max_idle_minutes: float = 30.0
    concurrency_limit: int = 4
    max_loaded_models: int = 2
    video: bool = True
    precision: str = "auto"  # exact | fast | auto (see sam2.precision)


def build_demo(config: AppConfig = AppConfig(), registry: Optional[ModelRegistry] = None) -> gr.Blocks:
    """The Blocks for the app; models load lazily on first use."""
    registry = registry or ModelRegistry(
        device=config.device, default_model=config.model, checkpoint=config.checkpoint,
        max_loaded=config.max_loaded_models, precision=config.precision,
    )
    idle_s = config.max_idle_minutes * 60.0
    image_controller = ImageController(ImageEngine(registry), max_idle_s=idle_s)
    image_controller.sessions.start_sweeper(interval_s=min(60.0, idle_s))
    on_gpu = registry.device.startswith("cuda")
    everything = EverythingDefaults(points_per_side=32 if on_gpu else 16)

    source = "local checkpoint" if registry.checkpoint else "Hugging Face Hub"
    with gr.Blocks(title="SAM 2 — Segment Anything in images and videos") as demo:
        gr.Markdown(
            "## SAM 2 — Segment Anything in images and videos\n"
            "Click on an object to segment it: green points mark the object, red points the "
            "background, or draw a box with two clicks. The model loads on first use "
            f"(default **{model_label(registry.default_model)}** from the {source}, on "
            f"**{registry.device}**)."
        )
        model = gr.Dropdown(model_choices(), value=registry.default_model, label="Model",
                            elem_id="model-select", interactive=True)
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                ImageTab(image_controller, config.examples_dir, everything,
                         concurrency_limit=config.concurrency_limit).build(model)
            video_controller = None
            if config.video:
                video_controller = _build_video_tab(registry, config, model)

        def forget(request: gr.Request) -> None:
            sid = request.session_hash if request is not None else None
            image_controller.drop(sid)
            if video_controller is not None:
                video_controller.drop(sid)

        demo.unload(forget)
    demo.sam2_registry = registry  # type: ignore[attr-defined]
    demo.sam2_image_controller = image_controller  # type: ignore[attr-defined]
    return demo


def _build_video_tab(registry: ModelRegistry, config: AppConfig, model: gr.Dropdown) -> Any:
    """The video tab, when its module is available (returns its controller or None)."""
    import importlib.util

    if importlib.util.find_spec("ui.video_tab") is None:
        return None
    from ui.video_tab import build_video_tab

    return build_video_tab(registry, config, model)


def launch_options() -> Dict[str, Any]:
    """``launch()`` arguments: theme, CSS, the upload limit, and the same limit for files
    sent any other way (a ``data:`` URL in a request body; ``ui.request_limits``)."""
    from starlette.middleware import Middleware

    from ui.request_limits import RequestSizeLimit

    guard = Middleware(RequestSizeLimit, upload_limit=MAX_FILE_SIZE.upper().replace("MB", " MB"))
    return dict(theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_FILE_SIZE,
                app_kwargs={"middleware": [guard]})
