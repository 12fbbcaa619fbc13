"""Gradio writes no ``.pyi`` stub files into ``ui/`` when our component classes are created."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import gradio as gr
import pytest
from gradio import component_meta

from ui.canvas.gradio_stubs import skip_stub_files

UI = pathlib.Path(__file__).resolve().parents[3] / "ui"


def _modules_with_component_classes():
    """ui modules with a class whose base is a Gradio class (``gr.Something``)."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Attribute) and isinstance(b.value, ast.Name) and b.value.id == "gr"
                    for b in node.bases):
                found.append(".".join(path.relative_to(UI.parent).with_suffix("").parts))
                break
    return found


def test_the_component_modules_are_found():
    assert {"ui.canvas.component", "ui.tabkit.numbers"} <= set(_modules_with_component_classes())


@pytest.mark.parametrize("module", _modules_with_component_classes())
def test_importing_a_component_module_first_in_a_fresh_interpreter_writes_no_stub(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=UI.parent, check=True, timeout=300)
    assert sorted(UI.rglob("*.pyi")) == []


def test_other_packages_components_still_get_their_stub(monkeypatch):
    seen = []
    monkeypatch.setattr(component_meta, "create_or_modify_pyi", lambda cls, name, events: seen.append(name))
    skip_stub_files()
    skip_stub_files()  # idempotent: wrapped once

    class Outside(gr.Number):  # a class of this test module, outside the ui package
        pass

    ours = type("Ours", (gr.Number,), {"__module__": "ui.some_tab"})
    assert seen == ["Outside"] and ours.__name__ == "Ours"
