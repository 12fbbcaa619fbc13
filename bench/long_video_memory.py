"""Resident memory against video length while tracking: bounded sessions vs keeping everything.

For each model (SAM 2.1 tiny, EdgeTAM; seeded random weights), object count and mode, a
fresh child process opens a 480p clip given as frames (the bedroom clip of ../shared/media
resized to 854 x 480 and looped: the frames cost the same RAM whatever the length), prompts
the objects on frame 0 and tracks forward, reading its resident memory (after handing freed
heap back to the OS) and the spill folder's size at 100, 200, 400 and 800 tracked frames.

* ``bounded``: this tree's default session (outputs past the tracking window go to disk);
* ``unbounded``: ``init_state(..., spill=False)``, every output kept in RAM: the code path
  of the previous revision (its tracking loop is unchanged apart from the spill).
* ``reference``: the reference implementation (facebookresearch/sam2, or EdgeTAM for
  ``edgetam``), built by the shared oracle (``../shared/oracle/setup.sh``; its folder is
  ``$SAM2_ORACLE``, default ``/work/oracle-edgetam``), on the same clip written as a JPEG
  folder, with ``init_state(offload_video_to_cpu=True, offload_state_to_cpu=True)``. It
  loads every frame at model resolution up front (float32), so its first point is higher
  by the whole clip; on the CPU its memories are kept as float32 (the oracle's patch: the
  reference's bfloat16 store needs CUDA autocast), a little more than on a GPU.

Every mode loads the same seeded random checkpoint (the parity fill rule, seed 0).
``--sizes tiny=128 edgetam=256`` sets the model input per model (EdgeTAM's smallest is
256: its perceiver needs a 16 x 16 memory map).

Growth is reported in MiB per tracked frame and object between the second and last point
(past warm-up). ``--speed`` also times both modes in one process, turn by turn (ABBA), and
reports the bounded / unbounded ratio of seconds per frame. ``--png`` draws the curve.

    python -m bench.long_video_memory                                   # full size (slow on a CPU)
    python -m bench.long_video_memory --image-size 256 --png docs/long_video_memory.png --speed
    nice -n 10 python -m bench.long_video_memory --modes bounded unbounded reference --threads 1 \
        --sizes tiny=128 edgetam=256 --json out.json --png docs/long_video_memory.png
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media" / "bedroom"
MODELS = {"tiny": "sam2.1_hiera_t", "edgetam": "edgetam"}


def clip_frames(n: int):
    """n frames of 854 x 480: the bedroom clip looped (one array per distinct frame)."""
    import numpy as np
    from PIL import Image

    names = sorted(p for p in MEDIA.iterdir() if p.suffix == ".jpg")
    distinct = [np.asarray(Image.open(p).convert("RGB").resize((854, 480), Image.BILINEAR)) for p in names]
    return [distinct[i % len(distinct)] for i in range(n)]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(model: str, image_size: int, ckpt: str = ""):
    """Our predictor at ``image_size``; with ``ckpt``, the seeded random checkpoint that the
    reference loads too (the parity fill rule), else torch's seeded initialisation."""
    import torch

    from sam2.configs import get_config
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    torch.manual_seed(0)
    predictor = SAM2VideoPredictor(get_config(MODELS[model], image_size=image_size)).eval()
    if ckpt:
        predictor.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["model"])
    return predictor


def write_clip_folder(folder: Path, n: int) -> None:
    """The looped clip as a JPEG folder (the reference's input): frame 00000.jpg ... (quality
    95), one file per tracked frame."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    encoded: Dict[int, bytes] = {}
    frames = clip_frames(n)
    import io

    for i, frame in enumerate(frames):
        key = id(frame)
        if key not in encoded:
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="JPEG", quality=95)
            encoded[key] = buf.getvalue()
        (folder / f"{i:05d}.jpg").write_bytes(encoded[key])


def trim_heap() -> None:
    """Hand freed heap back to the OS (glibc), as ``sam2.utils.memory.trim_process_memory``
    does for ours (the reference's process cannot import it)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reference_child(args: argparse.Namespace) -> Dict:
    """One session of the reference (run by the shared oracle's venv, ``../shared/oracle``):
    its JPEG-folder input loaded by ``init_state(offload_video_to_cpu=True,
    offload_state_to_cpu=True)``, the same prompts, RSS at the same checkpoints."""
    import numpy as np
    import torch

    if args.model == "edgetam":
        import edgetam_env  # noqa: F401  (untrained timm trunk; the checkpoint fills it)
    import make_golden  # noqa: F401  (CPU hole filling; bfloat16 memories handed on as float32)
    from sam2.build_sam import build_sam2_video_predictor

    torch.set_num_threads(args.threads)
    checkpoints = sorted(args.frames)
    overrides = [f"++model.image_size={args.image_size}"]
    if args.model == "edgetam":  # its cross-attention's RoPE table is made for the 64 x 64 map of 1024 px
        side = args.image_size // 16
        overrides.append(f"++model.memory_attention.layer.cross_attention.q_sizes=[{side},{side}]")
    predictor = build_sam2_video_predictor(REFERENCE_CONFIGS[args.model], args.ckpt, device="cpu",
                                           hydra_overrides_extra=overrides)
    rows, seconds = [], []
    with torch.inference_mode():
        state = predictor.init_state(video_path=args.clip_dir, offload_video_to_cpu=True, offload_state_to_cpu=True)
        points = [(300, 250), (600, 200), (150, 380)]
        for k in range(args.objects):
            predictor.add_new_points_or_box(state, 0, k + 1, points=np.array([points[k % 3]], np.float32),
                                            labels=np.array([1], np.int32))
        t0 = time.perf_counter()
        for frame_idx, _, _ in predictor.propagate_in_video(state, max_frame_num_to_track=checkpoints[-1]):
            seconds.append(time.perf_counter() - t0)
            if frame_idx in checkpoints:
                gc.collect()
                trim_heap()
                rows.append({"frames": frame_idx, "rss_mib": rss_mib(), "disk_mib": 0.0,
                             "s_per_frame": statistics.median(seconds[20:] or seconds)})
                print(json.dumps({"row": rows[-1]}), flush=True)
            t0 = time.perf_counter()
    return {"rows": rows, "s_per_frame": statistics.median(seconds[20:] or seconds)}


# the reference's configs for MODELS (facebookresearch/sam2 and facebookresearch/EdgeTAM)
REFERENCE_CONFIGS = {"tiny": "configs/sam2.1/sam2.1_hiera_t.yaml", "edgetam": "configs/edgetam.yaml"}
ORACLE = Path(os.environ.get("SAM2_ORACLE", "/work/oracle-edgetam"))


def prompt(predictor, state, objects: int) -> None:
    points = [(300, 250), (600, 200), (150, 380)]
    for k in range(objects):
        predictor.add_new_points_or_box(state, 0, k + 1, points=[points[k % 3]], labels=[1])


def child(args: argparse.Namespace) -> Dict:
    """One session: RSS and disk at each checkpoint (run in a fresh process)."""
    import torch

    from sam2.utils.memory import trim_process_memory

    torch.set_num_threads(args.threads)
    checkpoints = sorted(args.frames)
    predictor = build(args.model, args.image_size, args.ckpt)
    frames = clip_frames(checkpoints[-1] + 1)
    state = predictor.init_state(frames, spill=args.mode == "bounded")
    prompt(predictor, state, args.objects)
    rows, seconds, t0 = [], [], time.perf_counter()
    for frame_idx, _, _ in predictor.propagate_in_video(state, max_frame_num_to_track=checkpoints[-1]):
        now = time.perf_counter()
        seconds.append(now - t0)
        if frame_idx in checkpoints:
            if state.spill is not None:
                state.spill.flush()
            gc.collect()
            trim_process_memory()
            disk = state.spill.bytes_written if state.spill is not None else 0
            rows.append({"frames": frame_idx, "rss_mib": rss_mib(), "disk_mib": disk / 2**20,
                         "s_per_frame": statistics.median(seconds[20:] or seconds)})
            print(json.dumps({"row": rows[-1]}), flush=True)  # a run stopped midway keeps its points
        t0 = time.perf_counter()
    state.close()
    return {"rows": rows, "s_per_frame": statistics.median(seconds[20:] or seconds)}


def speed(args: argparse.Namespace) -> Dict:
    """Seconds per tracked frame, bounded vs unbounded, alternating ABBA in one process."""
    import torch

    torch.set_num_threads(args.threads)
    predictor = build(args.model, args.image_size)
    frames = clip_frames(args.speed_frames + 1)
    times: Dict[str, List[float]] = {"bounded": [], "unbounded": []}
    order = ["bounded", "unbounded", "unbounded", "bounded"] * args.rounds
    warm = predictor.init_state(frames[:8], spill=False)  # first-run costs (allocator, threads) off the clock
    prompt(predictor, warm, args.objects)
    for _ in predictor.propagate_in_video(warm):
        pass
    for mode in order:
        state = predictor.init_state(frames, spill=mode == "bounded")
        prompt(predictor, state, args.objects)
        t0 = time.perf_counter()
        for _ in predictor.propagate_in_video(state):
            pass
        times[mode].append((time.perf_counter() - t0) / (args.speed_frames + 1))
        state.close()
    ratios = [b / u for b, u in zip(times["bounded"], times["unbounded"])]
    return {"bounded_s": times["bounded"], "unbounded_s": times["unbounded"], "ratio_median": statistics.median(ratios),
            "ratios": ratios}


def spill_cost(records: int = 200) -> Dict:
    """Milliseconds of CPU the spill adds per frame and object at the official 1024 px input:
    writing one record (SAM 2 / EdgeTAM sizes) and reading one back (what a correction costs).
    The tracking loop itself only queues the record; the writer thread does the rest."""
    import tempfile

    import torch

    from sam2.modeling.tracker import FrameOutput
    from sam2.spilled_outputs import SpilledFrameOutputs
    from sam2.spill_store import SpillStore

    out = {}
    for name, memory in (("sam2", (1, 64, 64, 64)), ("edgetam", (1, 512, 64))):
        with tempfile.TemporaryDirectory() as tmp:
            store = SpillStore(tmp)
            outputs = SpilledFrameOutputs(store, capacity=0)
            value = FrameOutput(pred_masks=torch.randn(1, 1, 256, 256), obj_ptr=torch.randn(1, 256),
                                object_score_logits=torch.randn(1, 1),
                                maskmem_features=torch.randn(memory).to(torch.bfloat16))
            t0, c0 = time.perf_counter(), time.process_time()
            for t in range(records):
                outputs[t] = value
            queued = time.perf_counter() - t0
            store.flush()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            t1 = time.perf_counter()
            for t in range(0, records, 4):
                outputs[t].pred_masks.sum()
            read = (time.perf_counter() - t1) / len(range(0, records, 4))
            out[name] = {"queue_ms": 1e3 * queued / records, "write_wall_ms": 1e3 * wall / records,
                         "process_cpu_ms": 1e3 * cpu / records, "read_ms": 1e3 * read,
                         "kib_per_record": store.bytes_written / records / 1024}
            store.close()
    return out


def run_child(args: argparse.Namespace, extra: List[str], reference: bool = False, on_row=None) -> Dict:
    python, env = sys.executable, dict(os.environ, PYTHONPATH=str(REPO))
    if reference:  # the reference's own venv and import root (../shared/oracle/setup.sh)
        model = extra[extra.index("--model") + 1]
        root = ORACLE / ("edgetam-path" if model == "edgetam" else "sam2-path")
        python = str(ORACLE / "venv" / "bin" / "python")
        env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{REPO.parent / 'shared' / 'oracle'}")
    cmd = [python, __file__, "--child", "--image-size", str(args.image_size), "--threads", str(args.threads),
           "--frames", *map(str, args.frames), "--clip-dir", str(args.clip_dir), *extra]
    import tempfile

    # stderr to a file, not a pipe: the reference's progress bar writes a line a frame, and an
    # undrained pipe fills at 64 KiB and stops the child mid-run (it did, at ~400 frames)
    err_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True, env=env, cwd=REPO.parent)
    rows, last = [], ""
    for line in proc.stdout:  # checkpoints as they come, so that a run stopped midway keeps them
        if line.startswith('{"row"'):
            rows.append(json.loads(line)["row"])
            if on_row is not None:
                on_row({"rows": rows, "s_per_frame": rows[-1]["s_per_frame"], "partial": True})
        elif line.startswith("{"):
            last = line
    code = proc.wait()
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    if code != 0 or not last:
        raise RuntimeError(err[-3000:])
    return json.loads(last)


def growth(rows: List[Dict], objects: int) -> float:
    """MiB per tracked frame and object between the second and the last checkpoint."""
    if len(rows) < 2:
        return float("nan")
    a, b = rows[1 if len(rows) > 2 else 0], rows[-1]
    return (b["rss_mib"] - a["rss_mib"]) / (b["frames"] - a["frames"]) / objects


def draw_png(results: Dict, path: str, title: str) -> None:
    """The curves with PIL (no plotting library needed): resident memory above the first
    checkpoint (MiB) against tracked frames, so that the slopes show."""
    from PIL import Image, ImageDraw

    W, H, L, R, T, B = 980, 520, 70, 300, 40, 50
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    series = [(k, [dict(r, rss_mib=r["rss_mib"] - v["rows"][0]["rss_mib"]) for r in v["rows"]])
              for k, v in results.items()]
    xmax = max(r["frames"] for _, rows in series for r in rows)
    ymin = min(0.0, min(r["rss_mib"] for _, rows in series for r in rows)) - 0.5
    ymax = max(1.0, max(r["rss_mib"] for _, rows in series for r in rows)) * 1.15
    X = lambda f: L + (W - L - R) * f / xmax  # noqa: E731
    Y = lambda m: H - B - (H - T - B) * (m - ymin) / (ymax - ymin)  # noqa: E731
    d.rectangle([L, T, W - R, H - B], outline="black")
    for i in range(6):
        m = ymin + (ymax - ymin) * i / 5
        d.line([L - 4, Y(m), L, Y(m)], fill="black")
        d.text((5, Y(m) - 6), f"{m:+.1f}", fill="black")
    d.line([L, Y(0), W - R, Y(0)], fill=(200, 200, 200))
    for f in sorted({r["frames"] for _, rows in series for r in rows}):
        d.text((X(f) - 10, H - B + 6), str(f), fill="black")
    d.text((L, H - 22), "tracked frames", fill="black")
    d.text((5, T - 30), "resident memory above the first point (MiB)", fill="black")
    d.text((L + 150, 8), title, fill="black")
    colours = {"tiny": (31, 119, 180), "edgetam": (214, 39, 40)}
    for n, (key, rows) in enumerate(series):
        model, objects, mode = key.split("/")
        c = colours.get(model, (0, 0, 0))
        if objects.startswith("3"):
            c = tuple(int(v * 0.6) for v in c)
        if mode == "reference":  # the reference: a lighter shade, thin line, square points
            c = tuple(int(v + (255 - v) * 0.45) for v in c)
        pts = [(X(r["frames"]), Y(r["rss_mib"])) for r in rows]
        for a, b in zip(pts, pts[1:]):
            if mode == "bounded":
                d.line([a, b], fill=c, width=3)
            elif mode == "reference":
                d.line([a, b], fill=c, width=1)
            else:  # dashed
                steps = 12
                for s in range(0, steps, 2):
                    p = (a[0] + (b[0] - a[0]) * s / steps, a[1] + (b[1] - a[1]) * s / steps)
                    q = (a[0] + (b[0] - a[0]) * (s + 1) / steps, a[1] + (b[1] - a[1]) * (s + 1) / steps)
                    d.line([p, q], fill=c, width=2)
        for p in pts:
            shape = d.rectangle if mode == "reference" else d.ellipse
            shape([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=c)
        y = T + 18 * n
        d.line([W - R + 10, y + 6, W - R + 40, y + 6], fill=c, width=3 if mode == "bounded" else 1)
        d.text((W - R + 46, y), f"{key}  {growth(rows, int(objects[0])):+.4f} MiB/fr/obj", fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--objects", nargs="+", type=int, default=[1, 3])
    ap.add_argument("--modes", nargs="+", default=["bounded", "unbounded"])
    ap.add_argument("--frames", nargs="+", type=int, default=[100, 200, 400, 800])
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--png", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--speed", action="store_true", help="also time bounded vs unbounded (paired, ABBA)")
    ap.add_argument("--speed-frames", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="tiny", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="bounded", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", default="", help=argparse.SUPPRESS)
    ap.add_argument("--clip-dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="*", default=[], metavar="MODEL=PX",
                    help="model input size per model (e.g. tiny=128 edgetam=256); else --image-size")
    ap.add_argument("--speed-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--spill-cost", action="store_true", help="only time writing/reading records of 1024 px sizes")
    ap.add_argument("--draw", default=None, help="only draw --png from this --json file of an earlier run")
    args = ap.parse_args()
    if args.draw:
        saved = json.loads(Path(args.draw).read_text())
        draw_png(saved["results"], args.png, f"model input {saved['image_size']}, 854x480 clip, random weights, "
                 "shared 2-core CPU")
        return
    if args.spill_cost:
        print(json.dumps(spill_cost(), indent=1))
        return
    if args.child:
        args.objects = args.objects[0]
        if args.mode == "reference":
            print(json.dumps(reference_child(args)))
        else:
            print(json.dumps(speed(args) if args.speed_child else child(args)))
        return

    import tempfile

    from sam2.testing import write_random_checkpoint

    sizes = {k: int(v) for k, v in (item.split("=") for item in args.sizes)}
    tmp = tempfile.TemporaryDirectory(prefix="long-video-bench-")
    args.clip_dir = Path(tmp.name) / "clip"
    if "reference" in args.modes:
        write_clip_folder(args.clip_dir, max(args.frames) + 1)
    ckpts = {m: write_random_checkpoint(str(Path(tmp.name) / f"{m}.pt"), MODELS[m], seed=0) for m in args.models}
    default_size = args.image_size
    label = ", ".join(f"{m} {sizes.get(m, default_size)} px" for m in args.models)
    results: Dict[str, Dict] = {}
    for model in args.models:
        args.image_size = sizes.get(model, default_size)
        for objects in args.objects:
            for mode in args.modes:
                key = f"{model}/{objects}obj/{mode}"
                def save_partial(partial: Dict, key: str = key) -> None:
                    results[key] = partial
                    if args.json:
                        Path(args.json).write_text(json.dumps({"image_size": label, "results": results}))

                res = run_child(args, ["--model", model, "--objects", str(objects), "--mode", mode,
                                       "--ckpt", ckpts[model]], reference=mode == "reference", on_row=save_partial)
                results[key] = res
                points = "  ".join(f"{r['frames']}: {r['rss_mib']:.0f} MiB" for r in res["rows"])
                disk = res["rows"][-1]["disk_mib"]
                print(f"{key:28s} {points}  | growth {growth(res['rows'], objects):+.4f} MiB/frame/object, "
                      f"disk {disk:.0f} MiB ({disk / res['rows'][-1]['frames'] / objects * 1024:.0f} KiB/frame/object), "
                      f"{res['s_per_frame']:.3f} s/frame", flush=True)
                if args.json:  # kept as it goes: a long run stopped midway keeps its points
                    Path(args.json).write_text(json.dumps({"image_size": label, "results": results}))
    out: Dict = {"image_size": label, "results": results}
    if args.speed:
        for model in args.models:
            args.image_size = sizes.get(model, default_size)
            sp = run_child(args, ["--model", model, "--objects", str(args.objects[0]), "--speed-child",
                                  "--speed-frames", str(args.speed_frames), "--rounds", str(args.rounds)])
            out[f"speed/{model}"] = sp
            print(f"speed {model}: bounded/unbounded s/frame ratio median {sp['ratio_median']:.3f} "
                  f"(rounds {', '.join(f'{r:.3f}' for r in sp['ratios'])})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if args.png:
        draw_png(results, args.png, f"model input {label}, 854x480 clip, random weights, 2-core CPU")


if __name__ == "__main__":
    main()
