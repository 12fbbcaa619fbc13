"""The README's set-up section and CI install the same way (issue 13).

The set-up section gives one install line for CPU-only machines (the CPU build of torch
first) and one for GPU machines, then `python app.py`; `.ci/run` pins the same torch and
installs from the same requirement files.
"""

from __future__ import annotations

import re
from tests.support import paths

REPO = paths.REPO


def _setup_commands() -> list:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_setup_is_one_install_line_per_machine_then_run():
    install_cpu, install_gpu, run = _setup_commands()
    assert install_cpu.startswith("pip install torch==") and "--index-url https://download.pytorch.org/whl/cpu" in install_cpu
    assert install_cpu.endswith("&& pip install -r requirements.txt")
    assert install_gpu.startswith("pip install torch==") and "-r requirements.txt" in install_gpu
    assert "--index-url" not in install_gpu
    assert run == "python app.py"


def test_ci_installs_the_readme_torch_pin_and_requirements():
    pins = {re.search(r"torch==([\d.]+)", line).group(1) for line in _setup_commands()[:2]}
    ci = (REPO / ".ci" / "run").read_text()
    assert len(pins) == 1 and f'"torch=={pins.pop()}"' in ci
    assert "-r requirements-dev.txt" in ci


def _requirement_lines(name: str) -> list:
    lines = (REPO / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def test_requirement_files_install_this_project_whose_pyproject_lists_the_dependencies():
    import tomllib

    assert _requirement_lines("requirements.txt")[-1] == "-e ."
    assert _requirement_lines("requirements-dev.txt")[0] == "-e .[dev]"  # the runtime and the test tools
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!\[ ]", dep, 1)[0].lower() for dep in project["dependencies"]}
    assert {"torch", "gradio", "transformers", "safetensors"} <= names
    assert {"pytest", "import-linter"} <= {re.split(r"[<>=!\[ ]", d, 1)[0] for d in project["optional-dependencies"]["dev"]}
    assert "ray" in project["optional-dependencies"]



#: Pages other engineers write; linked from the README, merged separately.
OTHERS_PAGES = {"docs/annotate.md", "docs/long_videos.md", "docs/limits.md", "docs/canvas.md"}


def test_readme_picture_and_linked_pages_exist():
    """The README is short: a picture of the real app, the quick start, and links to docs/
    pages that must exist (and link back)."""
    text = (REPO / "README.md").read_text()
    assert text.index("](docs/screenshot.png)") < text.index("## Set up and run")
    png = (REPO / "docs" / "screenshot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    links = set(re.findall(r"\]\((docs/[^)#]+\.md)\)", text))
    assert {"docs/user-guide.md", "docs/exports.md", "docs/api.md", "docs/speed.md"} <= links
    for link in sorted(links - OTHERS_PAGES):
        page = (REPO / link).read_text()
        assert "../README.md" in page, link
    assert len(text.splitlines()) < 200, "the long parts belong in docs/"
