"""Keep Gradio from writing ``.pyi`` stub files into our source tree.

Gradio's ``ComponentMeta`` calls ``gradio.component_meta.create_or_modify_pyi`` for every
``Component`` subclass when the class is created, and that writes (and keeps rewriting) a
``<module>.pyi`` beside the module's source: ``ui/canvas/component.pyi``,
``ui/tabkit/numbers.pyi``. Those stubs only type Gradio's event methods for editors of a
*custom component package*; Gradio has no setting or environment variable to turn them off.
So the modules that subclass a Gradio component call :func:`skip_stub_files` before their
``class`` statements: it wraps the hook once so that it does nothing for classes of this
project's ``ui`` package and runs unchanged for everyone else's (Gradio's own included).
"""

from __future__ import annotations

from gradio import component_meta

#: Classes defined in modules under this package get no stub file.
_PACKAGE = __name__.split(".")[0] + "."


def _is_ours(component_class: type) -> bool:
    return str(getattr(component_class, "__module__", "")).startswith(_PACKAGE)


def skip_stub_files() -> None:
    """Make Gradio's stub writer skip this package's component classes (idempotent)."""
    original = component_meta.create_or_modify_pyi
    if getattr(original, "skips_ui_classes", False):
        return

    def create_or_modify_pyi(component_class, class_name, events):
        if not _is_ours(component_class):
            original(component_class, class_name, events)

    create_or_modify_pyi.skips_ui_classes = True  # type: ignore[attr-defined]
    component_meta.create_or_modify_pyi = create_or_modify_pyi
