"""How the package is put together: no import circle between builders and predictors, no
caches hidden in modules' ``__dict__`` or keyed by storage addresses, typed session state
used by attribute inside the package."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "sam2"


def _sources(folder: pathlib.Path):
    return sorted(folder.rglob("*.py"))


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


@pytest.mark.parametrize("path", _sources(PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_builders_import_the_builders(path):
    if path.name == "build_sam.py":
        return
    imported = set(_imported_modules(ast.parse(path.read_text())))
    assert "sam2.build_sam" not in imported, f"{path.name} imports sam2.build_sam (use sam2.assembly / sam2.hub)"


def test_builders_import_the_video_predictor_at_the_top():
    tree = ast.parse((PACKAGE / "build_sam.py").read_text())
    top = set(_imported_modules(ast.Module(body=[n for n in tree.body], type_ignores=[])))
    assert "sam2.sam2_video_predictor" in top


@pytest.mark.parametrize("path", _sources(PACKAGE / "modeling"), ids=lambda p: p.name)
def test_modules_keep_no_hidden_caches(path):
    text = path.read_text()
    assert "__dict__[" not in text and "__dict__.get(" not in text and "__dict__.pop(" not in text
    assert "data_ptr()" not in text


@pytest.mark.parametrize("path", _sources(PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_session_state_is_read_by_attribute_inside_the_package(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in ("state", "inference_state"):
            key = node.slice
            assert not (isinstance(key, ast.Constant) and isinstance(key.value, str)), (
                f"{path.name}:{node.lineno} reads {node.value.id}[{key.value!r}]; use the attribute"
            )


@pytest.mark.parametrize("folder", ["bench", "tests", "examples", "checkpoints", "ui", "sam2"])
def test_nothing_edits_sys_path(folder):
    """The project is installed (``pip install -r requirements.txt`` installs it editable), so
    scripts and tests import it as a package; a ``sys.path`` edit would hide a packaging bug."""
    root = PACKAGE.parent / folder
    edits = tuple("sys.path." + verb + "(" for verb in ("insert", "append"))  # spelt so this file has none
    offenders = [str(p.relative_to(root.parent)) for p in sorted(root.rglob("*.py"))
                 if any(edit in p.read_text() for edit in edits)]
    assert offenders == []
