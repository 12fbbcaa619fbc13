"""bench/gpu_check.py, the prepared check for a lent GPU, checked where there is none: its quick
CPU run must report every section, each with numbers or with its error, and show the parity
cases within the tests' tolerances (they pass in the test suite, so anything else is a bug of
the check)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.gpu_check_report import markdown
from tests.support.paths import REPO

SECTIONS = ("environment", "parity", "fast_mode", "speed", "batch")


def _numbers(value) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, dict):
        return sum(_numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_numbers(v) for v in value)
    return 0


def test_the_summary_shows_errors_where_numbers_would_be():
    report = {"device": "cuda", "quick": False, "budget_s": 600, "media": None, "started": "now", "elapsed_s": 12,
              "sections": {
                  "parity": {"status": "timeout", "error": "stopped at its 100 s limit during tf32_off.bedroom_tracking",
                             "seconds": 100, "limit_s": 100, "results": {
                                 "tf32_off.tf32": {"cuda.matmul.allow_tf32": False, "cudnn.allow_tf32": False},
                                 "tf32_off.truck_prompts": {"worst_features_rel_l2": 2e-6, "worst_logits_rel_l2": 3e-6,
                                                            "worst_score_abs": 1e-6, "worst_mask_mismatch": 0.0,
                                                            "within_tolerance": True}}},
                  "speed": {"status": "partial", "seconds": 50, "limit_s": 200, "results": {
                      "official_a100_fps": {"sam2.1_hiera_t": 91.2},
                      "sam2.1_hiera_t.exact.video": {"error": "RuntimeError: CUDA error: out of memory\nmore"},
                      "sam2.1_hiera_t.exact.image": {"set_image_s": 0.02, "click_ms": 4.0}}},
              }}
    text = markdown(report)
    assert "stopped at its 100 s limit during tf32_off.bedroom_tracking" in text
    assert "| tf32_off | False/False | truck_prompts | 2e-06 |" in text
    assert "error: RuntimeError: CUDA error: out of memory |" in text and "more" not in text
    assert "| sam2.1_hiera_t | exact | 0.02 | 4 |" in text


@pytest.mark.slow
def test_quick_cpu_run_reports_every_section(tmp_path, media_dir):
    out = tmp_path / "check"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gpu_check", "--device", "cpu", "--quick", "--out", str(out),
         "--budget", "600", "--media", str(media_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=660)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert list(report["sections"]) == list(SECTIONS)
    for name, section in report["sections"].items():
        assert section["status"] in ("ok", "partial", "error", "timeout", "skipped"), name
        assert _numbers(section["results"]) or section.get("error"), (name, section)
    parity = report["sections"]["parity"]["results"]
    cases = {k: v for k, v in parity.items() if k.startswith("cpu.") and k != "cpu.tf32"}
    assert set(cases) == {"cpu.truck_prompts", "cpu.batch_truck_groceries", "cpu.bedroom_tracking"}
    for key, case in cases.items():
        assert case.get("within_tolerance") is True, (key, case)
    summary = (out / "gpu_check.md").read_text()
    for heading in ("## Parity", "## Fast mode", "## Speed", "## Batch throughput"):
        assert heading in summary
    print("\n" + summary)
