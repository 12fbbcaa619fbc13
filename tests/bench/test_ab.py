"""bench/ab.py pairs the two trees' runs in ABBA order and reports per-round ratios."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import ab


def test_rounds_alternate_and_ratios_pair_each_round(monkeypatch, capsys):
    calls = []
    speeds = iter([2.0, 1.0, 1.8, 2.2, 1.6, 0.8])  # base, this, this, base, base, this

    def fake_run(tree, args):
        calls.append("this" if tree == ab.REPO else "base")
        return {"set_image_s": next(speeds)}

    monkeypatch.setattr(ab, "run_bench", fake_run)
    runs = ab.paired_rounds(Path("/elsewhere"), argparse.Namespace(rounds=3))
    assert calls == ["base", "this", "this", "base", "base", "this"]
    ab.report(runs, "HEAD~1")
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| set_image_s"))
    # medians 2.0 vs 1.0; ratios per round 1.0/2.0, 1.8/2.2, 0.8/1.6
    assert row == "| set_image_s | 2.000 | 1.000 | 0.500 0.818 0.500 | 0.500 |"
