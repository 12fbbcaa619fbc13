"""The architecture rules hold: import-linter's contracts (``[tool.importlinter]`` in
pyproject.toml) are kept, and no import cycle exists anywhere in ``sam2``.

Both checks are shown to fail on a deliberate violation, in a temporary copy of the
packages, so that a rule that cannot fail does not pass for a kept one.
"""

from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys
from typing import Dict, List, Set

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]

pytest.importorskip("importlinter", reason="import-linter is a dev requirement (pip install -r requirements-dev.txt)")


def lint_imports(root: pathlib.Path, contract: str = "") -> subprocess.CompletedProcess:
    """``lint-imports`` on the packages under ``root`` (it puts the working folder first on the
    path), all contracts or the one with id ``contract``."""
    only = ["--contract", contract] if contract else []
    return subprocess.run(LINT + ["--no-cache", "--config", str(root / "pyproject.toml"), *only], cwd=root,
                          capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------- import cycles


def _module_names(package_dir: pathlib.Path) -> Dict[str, pathlib.Path]:
    root = package_dir.parent
    names = {}
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(package_dir: pathlib.Path) -> Dict[str, Set[str]]:
    """Which modules of the package each of its modules imports (anywhere in the file).

    Importing ``a.b.c`` also runs the packages ``a.b`` and ``a`` unless the importer is
    inside them (then they are already running), so those count as imported too.
    """
    modules = _module_names(package_dir)
    top = package_dir.name
    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.name` -> the module a.b
                    target = target.rpartition(".")[0]
                if not target.startswith(top):
                    continue
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    step = ".".join(parts[:i])
                    if step in modules and step != name and not (name + ".").startswith(step + "."):
                        graph[name].add(step)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere_in_sam2():
    graph = import_graph(REPO / "sam2")
    assert "sam2.checkpoint" in graph["sam2.assembly"]  # the walk sees the imports
    assert cycles(graph) == []


def test_the_transformers_key_table_imports_nothing_of_sam2():
    # (import-linter's forbidden contract cannot say this: it skips imports within the forbidden package)
    graph = import_graph(REPO / "sam2")
    assert graph["sam2.transformers_keys"] == set()
    assert "sam2.transformers_keys" in graph["sam2.transformers_folder"]  # read by the checkpoint reader


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import A\n")  # a package re-exporting: no cycle
    (pkg / "sub" / "a.py").write_text("from pkg.sub.b import B\nA = 1\n")
    (pkg / "sub" / "b.py").write_text("B = 2\n")
    (pkg / "c.py").write_text("def late():\n    from . import d\n")  # function-level imports count
    (pkg / "d.py").write_text("import pkg.sub\n")
    assert cycles(import_graph(pkg)) == []
    (pkg / "sub" / "b.py").write_text("from pkg import c\nB = 2\n")
    (pkg / "d.py").write_text("from pkg.sub import a\n")
    assert cycles(import_graph(pkg)) == [["pkg.c", "pkg.d", "pkg.sub", "pkg.sub.a", "pkg.sub.b"]]


# ----------------------------------------------------------------------------- contracts


def test_import_contracts_are_kept():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("copy")
    for package in ("sam2", "ui"):
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


# what a change adds (file, text appended; a new file if absent), and the contract it must break
VIOLATIONS = {
    "model math reads media": ("sam2/modeling/violation.py", "from sam2.media import images\n", "sam2-modeling-no-io"),
    "the library imports the app": ("sam2/hub.py", "\nimport ui.canvas.scene\n", "sam2-not-ui"),
    "a lower layer imports a higher one": ("sam2/checkpoint_file.py", "\nfrom sam2 import checkpoint\n",
                                           "sam2-layers"),
    "utils and media import each other": ("sam2/utils/violation.py", "from sam2.media import images\n",
                                          "sam2-acyclic"),
    "one side imports the other": ("ui/image/violation.py", "import ui.video.state\n", "ui-layers"),
    "common imports a side": ("ui/common/violation.py", "import ui.image.state\n", "ui-layers"),
    "the canvas imports the app": ("ui/canvas/violation.py", "import ui.common.errors\n", "ui-canvas-self-contained"),
    "Gradio below the tabs": ("ui/common/violation.py", "import gradio\n", "ui-gradio-at-the-edges"),
    "a circle inside a side": ("ui/video/state.py", "\nimport ui.video.slot\n", "ui-acyclic"),
}
# the other half of the last cycle (media -> utils is allowed on its own by the acyclic contract)
SECOND_HALF = {"utils and media import each other": ("sam2/media/violation.py", "from sam2.utils import rle\n")}


@pytest.mark.parametrize("what", sorted(VIOLATIONS))
def test_lint_imports_fails_on_a_deliberate_violation(package_copy, what):
    path, code, contract = VIOLATIONS[what]
    changes = [(path, code)] + ([SECOND_HALF[what]] if what in SECOND_HALF else [])
    originals = {p: (package_copy / p).read_text() if (package_copy / p).exists() else None for p, _ in changes}
    try:
        for p, text in changes:
            (package_copy / p).write_text((originals[p] or "") + text)
        done = lint_imports(package_copy, contract)
    finally:
        for p, original in originals.items():
            if original is None:
                (package_copy / p).unlink()
            else:
                (package_copy / p).write_text(original)
    assert done.returncode != 0 and "1 broken" in done.stdout, done.stdout[-2000:] + done.stderr[-1000:]


def test_lint_imports_passes_on_the_untouched_copy(package_copy):
    done = lint_imports(package_copy)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:]
