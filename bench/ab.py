"""Paired A/B benchmark: this working tree against another git revision, in alternation.

On shared or virtual machines the speed drifts (10-15 % within an hour on our 2-core CI-like
VM), so two separate ``bench.py`` runs taken minutes apart cannot tell a 5 % change from the
drift. This script checks the other revision out into a temporary git worktree and runs
``bench.py`` in both trees turn by turn (ABBA order, so a steady drift cancels), then prints
each measure's medians and the per-round ratios (this tree / base).

    python -m bench.ab HEAD~1                                   # set_image and click, tiny
    python -m bench.ab main --what video --precision fast --rounds 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]


def run_bench(tree: Path, args: argparse.Namespace) -> Dict[str, float]:
    """One ``bench.py`` run of one model in ``tree``; its results."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, "-m", "bench.bench", "--models", args.model, "--what", args.what,
               "--repeat", str(args.repeat), "--threads", str(args.threads), "--precision", args.precision,
               "--json", out.name]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tree)
        if done.returncode != 0:
            raise RuntimeError(f"bench.py failed in {tree}:\n{done.stderr[-2000:]}")
        table = json.loads(Path(out.name).read_text() or "{}")
    if args.model not in table:
        raise RuntimeError(f"bench.py in {tree} gave no result:\n{done.stdout[-2000:]}")
    return table[args.model]


def paired_rounds(base: Path, args: argparse.Namespace) -> Dict[str, List[Dict[str, float]]]:
    runs: Dict[str, List[Dict[str, float]]] = {"base": [], "this": []}
    for i in range(args.rounds):
        order = [("base", base), ("this", REPO)]
        for name, tree in order if i % 2 == 0 else order[::-1]:
            runs[name].append(run_bench(tree, args))
            print(f"round {i + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(runs[name][-1].items())),
                  flush=True)
    return runs


def report(runs: Dict[str, List[Dict[str, float]]], base_rev: str) -> None:
    keys = sorted(set(runs["base"][0]) & set(runs["this"][0]))
    print(f"\n| measure | base {base_rev} (median) | this tree (median) | ratio per round | median ratio |")
    print("|---|---|---|---|---|")
    for key in keys:
        a = [r[key] for r in runs["base"]]
        b = [r[key] for r in runs["this"]]
        ratios = [y / x for x, y in zip(a, b) if x]
        shown = " ".join(f"{r:.3f}" for r in ratios)
        mid = f"{statistics.median(ratios):.3f}" if ratios else "-"
        print(f"| {key} | {statistics.median(a):.3f} | {statistics.median(b):.3f} | {shown} | {mid} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="git revision to compare against (e.g. HEAD~1, main)")
    parser.add_argument("--model", default="sam2.1_hiera_t")
    parser.add_argument("--what", default="image", help="as bench.py: image, amg, video, longvideo")
    parser.add_argument("--precision", default="exact")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sam2-ab-") as tmp:
        base = Path(tmp) / "base"
        shared = REPO.parent / "shared"  # bench.py's test photo lives beside the repository
        if shared.is_dir():
            (Path(tmp) / "shared").symlink_to(shared)
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=REPO, check=True)
        try:
            report(paired_rounds(base, args), args.base)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)


if __name__ == "__main__":
    main()
