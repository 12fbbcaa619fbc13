"""EdgeTAM's RepViT trunk in exact mode: this tree against another revision, in one process.

The other revision's ``sam2/modeling/repvit.py`` is loaded as a module of its own (its
imports resolve to this tree's ``sam2``), both trunks get the same seeded random weights,
and the two are called in alternation (ABBA) on one 1024 px input. Prints whether their
maps are bit-identical, the median wall and CPU-seconds per call, and the per-round ratios
(this tree / other).

    python -m bench.repvit_exact_ab 9e07216 --threads 2 --rounds 6
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="git revision whose repvit.py to compare against")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()

    import torch

    import sam2.modeling.repvit as this
    from sam2.configs import RepViTConfig
    from sam2.testing import random_state_dict

    torch.set_num_threads(args.threads)
    source = subprocess.run(["git", "show", f"{args.base}:sam2/modeling/repvit.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("repvit_base", f.name)
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)

    state = {k[len("image_encoder.trunk."):]: v for k, v in random_state_dict("edgetam", 3).items()
             if k.startswith("image_encoder.trunk.")}
    trunks = {}
    for name, module in (("base", base), ("this", this)):
        trunk = module.RepViT(RepViTConfig())
        trunk.load_state_dict(state)
        trunks[name] = trunk.eval().fold_batchnorm(False)
    x = torch.randn(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0)) * 2

    def call(name):
        with torch.inference_mode():
            t, c = time.perf_counter(), time.process_time()
            out = trunks[name](x)
            return time.perf_counter() - t, time.process_time() - c, out

    first = {name: call(name)[2] for name in trunks}  # first calls (and this tree's layout measurements) off the clock
    same = all(torch.equal(a.contiguous(), b.contiguous()) for a, b in zip(first["base"], first["this"]))
    print(f"maps bit-identical: {same}")
    runs = {"base": [], "this": []}
    for r in range(args.rounds):
        for name in ("base", "this") if r % 2 == 0 else ("this", "base"):
            runs[name].append(call(name)[:2])
    for name, rows in runs.items():
        print(f"{name}: wall {statistics.median(w for w, _ in rows):.3f} s, CPU {statistics.median(c for _, c in rows):.3f} s")
    wall = [t[0] / b[0] for b, t in zip(runs["base"], runs["this"])]
    cpu = [t[1] / b[1] for b, t in zip(runs["base"], runs["this"])]
    print("this/base per round, wall: " + " ".join(f"{v:.3f}" for v in wall) + f" (median {statistics.median(wall):.3f})")
    print("this/base per round, CPU:  " + " ".join(f"{v:.3f}" for v in cpu) + f" (median {statistics.median(cpu):.3f})")
    Path(f.name).unlink()


if __name__ == "__main__":
    main()
