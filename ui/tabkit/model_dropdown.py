"""The model dropdown both tabs share: its choices say which models cannot load here.

Labels carry a suffix such as "— unavailable offline" (from ``ModelRegistry.choices``, a
cache lookup plus the remembered Hub probe), so a user sees before picking which models
will work. The choices are refreshed on every page load and after every model switch,
when the registry may have learned something; the value always shows the model the
session really uses (a failed switch puts it back).
"""

from __future__ import annotations

from typing import Optional

import gradio as gr

from ui.models.registry import ModelRegistry


def model_dropdown(registry: ModelRegistry) -> gr.Dropdown:
    """The dropdown component (build it inside the page's ``gr.Blocks``). No ``info`` line under
    its label: the page header says what EdgeTAM trades (``ui.models.names.EDGETAM_TRADE``),
    so the header stays one row high."""
    return gr.Dropdown(registry.choices(), value=registry.default_model, label="Model",
                       elem_id="model-select", interactive=True)


def dropdown_update(registry: ModelRegistry, value: Optional[str]) -> gr.Dropdown:
    """Fresh choices and ``value`` (a model id) for an event output."""
    return gr.Dropdown(choices=registry.choices(), value=registry.resolve(value))
