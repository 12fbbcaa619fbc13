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
    assert "-r requirements-dev.txt" in ci and "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text()
