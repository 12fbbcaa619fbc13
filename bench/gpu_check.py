"""One prepared check for a lent GPU: parity, fast mode, speed and batch throughput in one run
that fits a time budget and leaves everything in one folder.

    python -m bench.gpu_check --device cuda --out DIR                # what bench/gpu_check.sh runs
    python -m bench.gpu_check --device cpu --quick --out DIR --budget 300   # the check of the check

A GPU may be lent to a session for a few minutes once, on a fresh machine, so the check has to
spend that time well and never lose what it measured: each section (environment, parity,
fast_mode, speed, batch; see bench/gpu_check_sections.py) runs in its own child process with
its own time limit, a share of what is left of the budget (a section that finishes early
leaves its time to the next). A section that fails or runs out of time is recorded as such,
with the items it finished, and the next one runs. ``DIR/gpu_check.json`` and
``DIR/gpu_check.md`` are rewritten after every section; ``DIR/gpu_check.log`` has the
children's output.

Test media (truck.jpg, groceries.jpg, the bedroom frames) come from ``--media``,
``$SAM2_SHARED_MEDIA``, ``bench/results/gpu_media`` (where ``bench/gpu_check.sh --stage-media``
copies them, so that the device tool can carry them) or ``../shared/media``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

REPO = Path(__file__).resolve().parents[1]
STAGED_MEDIA = REPO / "bench" / "results" / "gpu_media"

# (section, share of the time left, among the sections still to run); the environment gets a fixed slice
SHARES = {"full": {"parity": 0.2, "fast_mode": 0.12, "speed": 0.43, "batch": 0.25},
          "quick": {"parity": 0.4, "fast_mode": 0.25, "speed": 0.2, "batch": 0.15}}
ENVIRONMENT_S = 60.0
REPORT_RESERVE_S = 5.0  # kept back at the end for the last report write
MIN_SECTION_S = 5.0


def find_media(explicit: Optional[str]) -> Optional[Path]:
    candidates = [explicit, os.environ.get("SAM2_SHARED_MEDIA"), STAGED_MEDIA, REPO.parent / "shared" / "media"]
    for c in candidates:
        if c and (Path(c) / "truck.jpg").exists():
            return Path(c).resolve()
    return None


def run_section(name: str, limit: float, args: argparse.Namespace, media: Optional[Path], out: Path) -> Dict:
    """Run one section in a child process for at most ``limit`` seconds; its record."""
    with tempfile.TemporaryDirectory() as tmp:  # the part file stays out of the folder that comes back
        return _run_section(name, limit, args, media, out, Path(tmp) / f"{name}.json")


def _run_section(name: str, limit: float, args: argparse.Namespace, media: Optional[Path], out: Path,
                 part: Path) -> Dict:
    cmd = [sys.executable, "-m", "bench.gpu_check", "--child", name, "--device", args.device, "--part", str(part),
           "--limit", f"{limit:.1f}", "--image-size", str(args.image_size)]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--media", str(media)] if media else []
    t0 = time.monotonic()
    record: Dict = {"limit_s": round(limit, 1)}
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(out / "gpu_check.log", "a") as log:
        log.write(f"\n===== {name} (limit {limit:.0f} s) =====\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=limit)
            record["status"] = "ok" if rc == 0 else "error"
            if rc != 0:
                record["error"] = f"child exited with {rc}; see gpu_check.log"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            record["status"] = "timeout"
            record["error"] = f"stopped at its {limit:.0f} s limit"
    record["seconds"] = round(time.monotonic() - t0, 1)
    results = json.loads(part.read_text()) if part.exists() else {}
    if record["status"] == "timeout" and results.get("running"):
        record["error"] += f" during {results['running']}"
    results.pop("running", None)
    record["results"] = results
    failed = [k for k, v in results.items() if isinstance(v, dict) and ("error" in v or "skipped" in v)]
    if failed:
        record["items_failed_or_skipped"] = failed
        if record["status"] == "ok":
            record["status"] = "partial"
    if record["status"] == "error" and not results:
        record["error"] += "\n" + _log_tail(out / "gpu_check.log")
    return record


def _log_tail(path: Path, chars: int = 2000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


def run_child(args: argparse.Namespace) -> None:
    from bench.gpu_check_sections import SECTIONS, Context, Recorder

    ctx = Context(device=args.device, quick=args.quick, media=Path(args.media) if args.media else None,
                  deadline=time.monotonic() + max(0.0, args.limit - 3.0), image_size=args.image_size)
    rec = Recorder(args.part)
    if ctx.media is None and args.child in ("parity", "fast_mode"):
        rec.set("error", "no test media (truck.jpg, groceries.jpg, bedroom/): pass --media or stage them "
                         "with bench/gpu_check.sh --stage-media")
        raise SystemExit(1)
    SECTIONS[args.child](rec, ctx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "gpu_check"))
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the whole check")
    ap.add_argument("--quick", action="store_true", help="fewer cases and frames, tiny only, small model input")
    ap.add_argument("--media", help="folder with truck.jpg, groceries.jpg and bedroom/ (see above)")
    ap.add_argument("--image-size", type=int, default=0,
                    help="model input of the speed and batch sections (default 1024; 256 with --quick)")
    ap.add_argument("--only", help="comma list of sections to run (default: all)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.image_size = args.image_size or (256 if args.quick else 1024)
    if args.child:
        run_child(args)
        return

    from bench.gpu_check_report import write_report

    start = time.monotonic()
    end = start + args.budget - REPORT_RESERVE_S
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.log").write_text("")
    media = find_media(args.media)
    shares = SHARES["quick" if args.quick else "full"]
    wanted = args.only.split(",") if args.only else ["environment", *shares]
    report: Dict = {"command": " ".join(sys.argv), "device": args.device, "quick": args.quick,
                    "budget_s": args.budget, "media": str(media) if media else None,
                    "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "sections": {}}
    write_report(report, out)
    for name in ["environment", *shares]:
        left = end - time.monotonic()
        if name not in wanted:
            continue
        if name == "environment":
            limit = min(ENVIRONMENT_S, 0.2 * left)
        else:
            to_run = [s for s in shares if s in wanted and s not in report["sections"]]
            limit = left * shares[name] / sum(shares[s] for s in to_run)
        if limit < MIN_SECTION_S:
            report["sections"][name] = {"status": "skipped", "error": "no time left in the budget", "results": {}}
        else:
            print(f"gpu_check: {name} (limit {limit:.0f} s)", flush=True)
            report["sections"][name] = run_section(name, limit, args, media, out)
            print(f"gpu_check: {name} {report['sections'][name]['status']} "
                  f"in {report['sections'][name]['seconds']:.0f} s", flush=True)
        report["elapsed_s"] = round(time.monotonic() - start, 1)
        write_report(report, out)
    print((out / "gpu_check.md").read_text(), flush=True)


if __name__ == "__main__":
    main()
