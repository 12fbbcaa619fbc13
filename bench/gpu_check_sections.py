"""The measurements of bench/gpu_check.py, one function per section; each runs in its own
child process (a hung or failed CUDA call then costs one section, not the whole check).

Every section writes into a ``Recorder``, which rewrites the section's part file after each
item: a section stopped at its time limit still reports the items it finished, and an item
that raises is recorded with its error while the section goes on with the next one.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

# facebookresearch/sam2 README, SAM 2.1 table, frames per second on an A100 (one object).
OFFICIAL_A100_FPS = {"sam2.1_hiera_t": 91.2, "sam2.1_hiera_l": 39.5}
# The same table as first published with the 2.1 checkpoints (09/29/2024), before full compilation.
OFFICIAL_A100_FPS_SEPT_2024 = {"sam2.1_hiera_t": 47.2, "sam2.1_hiera_l": 24.2}
OFFICIAL_CONDITIONS = (
    "facebookresearch/sam2 README since its 12/11/2024 update: 'Speed measured on an A100 with torch 2.5.1, "
    "cuda 12.4'; its sam2/benchmark.py runs under bfloat16 autocast with TF32 on, builds the predictor with "
    "vos_optimized=True (torch.compile of the whole model), clicks one object on frame 0 of the bedroom clip "
    "(960x540, 200 frames) and averages 25 propagations after 5 warm-up ones. The 09/29/2024 table of the 2.1 "
    "release gave 47.2 (tiny) and 24.2 (large; 30.2 with only the image encoder compiled)."
)
VIDEO_CLICK = (210, 350)  # benchmark.py's click on the bedroom clip
FAST_IOU_BOUND = 0.97  # tests/sam2/test_precision.py: fast-vs-exact mask IoU


@dataclass
class Context:
    """What every section needs to know."""

    device: str
    quick: bool
    media: Optional[Path]
    deadline: float  # time.monotonic() by which the section should have finished
    image_size: int  # model input of the speed and batch sections (parity is always 1024)


class Recorder:
    """A section's results as a dict, rewritten to ``path`` after every change."""

    def __init__(self, path: str):
        self.path = path
        self.data: Dict[str, object] = {}

    def set(self, key: str, value) -> None:
        self.data[key] = value
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, default=_jsonable)
        os.replace(tmp, self.path)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return str(value)


def run_item(rec: Recorder, ctx: Context, name: str, fn: Callable[[], dict], min_s: float = 0.0) -> None:
    """Run one measurement; its result, its error or 'skipped' goes to ``rec[name]``."""
    if time.monotonic() + min_s > ctx.deadline:
        rec.set(name, {"skipped": "not enough of the section's time left"})
        return
    rec.set("running", name)
    t0 = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # recorded, never fatal: the next item still runs
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
    result["seconds"] = round(time.monotonic() - t0, 2)
    rec.set(name, result)
    rec.set("running", None)
    free_device_memory(ctx.device)


def free_device_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def sync(device: str) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def tf32_settings() -> Dict[str, object]:
    """The TF32 switches as torch reports them (the legacy flags and, where torch has them,
    the newer ``fp32_precision`` settings)."""
    import torch

    out: Dict[str, object] = {
        "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    for name, obj in (("cuda.matmul.fp32_precision", torch.backends.cuda.matmul),
                      ("cudnn.conv.fp32_precision", getattr(torch.backends.cudnn, "conv", None))):
        try:
            if obj is not None and hasattr(obj, "fp32_precision"):
                out[name] = obj.fp32_precision
        except Exception as exc:  # some torch versions refuse to read a mix of old and new settings
            out[name] = f"unreadable: {exc}"
    return out


def set_tf32(matmul: bool, cudnn: bool) -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = cudnn


# ---------------------------------------------------------------------------- environment
def environment(rec: Recorder, ctx: Context) -> None:
    import torch

    from sam2.precision import resolve_compute_dtype

    info = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "device": ctx.device,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "fast_mode_dtype": str(resolve_compute_dtype("fast", ctx.device)), "tf32_at_start": tf32_settings()}
    if ctx.device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                    memory_gib=round(props.total_memory / 1024 ** 3, 1), cudnn=torch.backends.cudnn.version())
    rec.set("info", info)


# ---------------------------------------------------------------------------- parity
@functools.lru_cache(maxsize=None)
def _parity_group() -> dict:
    from tests.support.parity import PARITY_DIR

    with open(PARITY_DIR / "cases.json") as f:
        return json.load(f)["groups"][0]


def _case(group: dict, kind: str, name: str) -> dict:
    return next(c for c in group[kind] if c["name"] == name)


def _rgb(ctx: Context, name: str) -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(ctx.media / name).convert("RGB"))


def _video_steps(group: dict, quick: bool) -> List[dict]:
    """The bedroom case's steps; in quick mode its first two prompts and one tracked frame
    (tracking is causal, so the records are the first ones of the golden file)."""
    from tests.parity.test_video_parity import CASE

    steps = _case(group, "video_cases", CASE)["steps"]
    return steps[:2] + [dict(steps[2], max_frames=1)] if quick else steps


def _image_truck(ctx: Context, ckpt: str, model: str) -> dict:
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from tests.parity.test_image_parity import FEAT_TOL, MASK_TOL, SCORE_TOL
    from tests.support.parity import image_feature_errors, load_golden, prompt_call_errors, rel_l2

    golden = load_golden("truck_prompts")
    predictor = SAM2ImagePredictor(build_sam2(model, ckpt, device=ctx.device))
    predictor.set_image(_rgb(ctx, "truck.jpg"))
    features = image_feature_errors(predictor, golden)
    embed = predictor.get_image_embedding()[0].float().cpu().numpy()
    # the test accepts either standard deviation convention (see test_image_parity.py)
    std_err = min(rel_l2(embed.std(axis=(1, 2), ddof=1), golden["image_embed_chan_std"]),
                  rel_l2(embed.std(axis=(1, 2)), golden["image_embed_chan_std"]))
    calls = prompt_call_errors(predictor, _case(_parity_group(), "image_cases", "truck_prompts")["calls"], golden)
    within = (all(e < FEAT_TOL for e in features.values()) and std_err < 1e-3
              and all(c["outputs_ok"] and c["score_abs"] <= SCORE_TOL and c["low_res_rel_l2"] < FEAT_TOL
                      and c["mask_mismatch"] < MASK_TOL and c.get("logits_rel_l2", 0.0) < FEAT_TOL for c in calls))
    return {"features_rel_l2": features, "embed_chan_std_rel_l2": std_err, "calls": calls,
            "worst_features_rel_l2": max(features.values()),
            "worst_logits_rel_l2": max(max(c["low_res_rel_l2"], c.get("logits_rel_l2", 0.0)) for c in calls),
            "worst_score_abs": max(c["score_abs"] for c in calls),
            "worst_mask_mismatch": max(c["mask_mismatch"] for c in calls), "within_tolerance": within}


def _image_batch(ctx: Context, ckpt: str, model: str) -> dict:
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from tests.parity.test_image_parity import FEAT_TOL, MASK_TOL, SCORE_TOL
    from tests.support.parity import load_golden, mask_mismatch, rel_l2

    golden = load_golden("batch_truck_groceries")
    case = _case(_parity_group(), "image_cases", "batch_truck_groceries")
    predictor = SAM2ImagePredictor(build_sam2(model, ckpt, device=ctx.device))
    predictor.set_image_batch([_rgb(ctx, n) for n in case["images"]])
    call = case["call"]
    masks, scores, lows = predictor.predict_batch(
        [np.array(p) for p in call["point_coords"]], [np.array(lab) for lab in call["point_labels"]],
        multimask_output=call["multimask_output"])
    per_image = []
    for i in range(len(case["images"])):
        per_image.append({
            "score_abs": float(np.abs(scores[i].astype(np.float64) - golden[f"img{i}_scores"]).max()),
            "low_res_rel_l2": rel_l2(lows[i], golden[f"img{i}_low_res_logits"]),
            "mask_mismatch": mask_mismatch(masks[i], golden[f"img{i}_masks_packed"], tuple(golden[f"img{i}_mask_shape"])),
        })
    within = all(p["score_abs"] <= SCORE_TOL and p["low_res_rel_l2"] < FEAT_TOL and p["mask_mismatch"] < MASK_TOL
                 for p in per_image)
    return {"images": per_image, "worst_logits_rel_l2": max(p["low_res_rel_l2"] for p in per_image),
            "worst_score_abs": max(p["score_abs"] for p in per_image),
            "worst_mask_mismatch": max(p["mask_mismatch"] for p in per_image), "within_tolerance": within}


def _video_bedroom(ctx: Context, ckpt: str, model: str) -> dict:
    from sam2.build_sam import build_sam2_video_predictor
    from tests.parity.test_video_parity import CASE, LOGITS_TOL, MASK_TOL
    from tests.support.parity import load_golden, mask_mismatch, rel_l2, replay

    group = _parity_group()
    golden = load_golden(CASE)
    predictor = build_sam2_video_predictor(model, ckpt, device=ctx.device, feature_cache_size=8)
    records, extras = replay(predictor, ctx.media / _case(group, "video_cases", CASE)["frames"],
                             _video_steps(group, ctx.quick))
    golden_names = sorted({"_".join(k.split("_")[:2]) for k in golden.files if k.startswith("r")})
    names = [f"r{i:03d}_{name}" for i, (name, *_rest) in enumerate(records)]
    same_calls = names == golden_names[:len(names)] and (ctx.quick or len(names) == len(golden_names))
    worst_logits, worst_mask, frames_and_ids = 0.0, 0.0, True
    for key, (_name, frame_idx, obj_ids, logits) in zip(names, records):
        if f"{key}_frame" not in golden.files:
            continue
        frames_and_ids &= (frame_idx == int(golden[f"{key}_frame"])
                           and list(obj_ids) == golden[f"{key}_obj_ids"].tolist())
        logits = logits.float().cpu()[:, 0]
        worst_logits = max(worst_logits, rel_l2(logits[..., ::4, ::4].numpy(),
                                                golden[f"{key}_logits_sub4"].astype(np.float32)))
        worst_mask = max(worst_mask, mask_mismatch((logits > 0).numpy(), golden[f"{key}_masks_packed"],
                                                   tuple(golden[f"{key}_mask_shape"])))
    extras_ok = all(ids == golden[k].tolist() for k, ids in extras.items())
    return {"records": len(records), "golden_records": len(golden_names), "truncated": ctx.quick,
            "same_calls": same_calls, "frames_and_ids_match": bool(frames_and_ids), "remaining_ids_match": extras_ok,
            "worst_logits_rel_l2": worst_logits, "worst_mask_mismatch": worst_mask,
            "within_tolerance": bool(same_calls and frames_and_ids and extras_ok and worst_logits < LOGITS_TOL
                                     and worst_mask < MASK_TOL)}


def parity(rec: Recorder, ctx: Context) -> None:
    """The image and video parity cases on ``ctx.device`` in exact precision; on CUDA once
    with TF32 explicitly off and once with torch's own TF32 defaults."""
    from sam2.testing import write_random_checkpoint
    from tests.parity.test_image_parity import FEAT_TOL, MASK_TOL, SCORE_TOL
    from tests.parity import test_video_parity

    rec.set("tolerances", {"features_and_logits_rel_l2": FEAT_TOL, "score_abs": SCORE_TOL, "mask_mismatch": MASK_TOL,
                           "video_logits_rel_l2": test_video_parity.LOGITS_TOL,
                           "video_mask_mismatch": test_video_parity.MASK_TOL})
    group = _parity_group()
    cuda = ctx.device.startswith("cuda")
    defaults = None
    if cuda:
        import torch

        defaults = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    passes = [("tf32_off", (False, False)), ("torch_tf32_defaults", defaults)] if cuda else [("cpu", None)]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "parity.pt"), group["model"], group["seed"])
        for pass_name, flags in passes:
            if flags is not None:
                set_tf32(*flags)
            rec.set(f"{pass_name}.tf32", tf32_settings() if cuda else "not applicable on the CPU")
            run_item(rec, ctx, f"{pass_name}.truck_prompts", lambda: _image_truck(ctx, ckpt, group["model"]))
            run_item(rec, ctx, f"{pass_name}.batch_truck_groceries", lambda: _image_batch(ctx, ckpt, group["model"]))
            run_item(rec, ctx, f"{pass_name}.bedroom_tracking", lambda: _video_bedroom(ctx, ckpt, group["model"]))
    if cuda:
        set_tf32(*defaults)


# ---------------------------------------------------------------------------- fast mode
def _fast_image(ctx: Context, ckpt: str, model: str) -> dict:
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from tests.support.parity import mask_iou

    calls = [c for c in _case(_parity_group(), "image_cases", "truck_prompts")["calls"] if "mask_input_from" not in c]
    image = _rgb(ctx, "truck.jpg")
    outputs, dtypes = {}, {}
    for precision in ("exact", "fast"):
        sam = build_sam2(model, ckpt, device=ctx.device, precision=precision)
        dtypes[precision] = str(sam.compute_dtype)
        predictor = SAM2ImagePredictor(sam)
        predictor.set_image(image)
        outputs[precision] = [predictor.predict(
            point_coords=np.array(c["point_coords"]) if "point_coords" in c else None,
            point_labels=np.array(c["point_labels"]) if "point_labels" in c else None,
            box=np.array(c["box"]) if "box" in c else None, multimask_output=c["multimask_output"]) for c in calls]
        del predictor, sam
        free_device_memory(ctx.device)
    ious = [float(mask_iou(m32, m16).min()) for (m32, _, _), (m16, _, _) in zip(outputs["exact"], outputs["fast"])]
    scores = [float(np.abs(s32 - s16).max()) for (_, s32, _), (_, s16, _) in zip(outputs["exact"], outputs["fast"])]
    return {"compute_dtype": dtypes, "mask_iou_per_call": ious, "min_mask_iou": min(ious),
            "max_score_diff": max(scores), "within_test_bound": min(ious) >= FAST_IOU_BOUND}


def _fast_video(ctx: Context, ckpt: str, model: str) -> dict:
    from sam2.build_sam import build_sam2_video_predictor
    from tests.parity.test_video_parity import CASE
    from tests.support.parity import mask_iou, replay

    group = _parity_group()
    frames = ctx.media / _case(group, "video_cases", CASE)["frames"]
    results, dtypes = {}, {}
    for precision in ("exact", "fast"):
        predictor = build_sam2_video_predictor(model, ckpt, device=ctx.device, precision=precision,
                                               feature_cache_size=8)
        records, _ = replay(predictor, frames, _video_steps(group, ctx.quick))
        results[precision] = [(name, frame, list(ids), (logits > 0).cpu().numpy()[:, 0])
                              for name, frame, ids, logits in records]
        dtypes[precision] = str(predictor.compute_dtype)
        del predictor
        free_device_memory(ctx.device)
    worst, same = 1.0, len(results["exact"]) == len(results["fast"])
    for (_, frame, ids, exact), (_, frame16, ids16, fast) in zip(results["exact"], results["fast"]):
        same &= (frame, ids) == (frame16, ids16)
        if exact.shape == fast.shape:
            worst = min(worst, float(mask_iou(exact, fast).min()))
    return {"compute_dtype": dtypes, "records": len(results["exact"]), "same_frames_and_ids": bool(same),
            "min_mask_iou": worst,
            "within_test_bound": bool(same and worst >= FAST_IOU_BOUND)}


def fast_mode(rec: Recorder, ctx: Context) -> None:
    """Fast (bfloat16 where the device has it) against exact masks on the parity inputs,
    under torch's own TF32 defaults (what a user of the library gets)."""
    from sam2.testing import write_random_checkpoint

    group = _parity_group()
    if ctx.device.startswith("cuda"):
        rec.set("tf32", tf32_settings())
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "fast.pt"), group["model"], group["seed"])
        run_item(rec, ctx, "truck_prompts", lambda: _fast_image(ctx, ckpt, group["model"]))
        run_item(rec, ctx, "bedroom_tracking", lambda: _fast_video(ctx, ckpt, group["model"]))


# ---------------------------------------------------------------------------- speed
def _overrides(ctx: Context) -> List[str]:
    return [] if ctx.image_size == 1024 else [f"++model.image_size={ctx.image_size}"]


def _timed(fn: Callable, device: str, repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls after one warm-up call, device work included
    (``bench.bench.timed`` around a call that waits for the device)."""
    from bench.bench import timed

    return timed(lambda: (fn(), sync(device)), repeat)


def _speed_image(ctx: Context, ckpt: str, model: str, precision: str) -> dict:
    import torch

    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    if ctx.quick:  # full-size masks of a big photo would cost more than the small model input saves
        image = np.random.default_rng(0).integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
    elif ctx.media is not None and (ctx.media / "truck.jpg").exists():
        image = _rgb(ctx, "truck.jpg")
    else:
        image = np.random.default_rng(0).integers(0, 255, size=(1200, 1800, 3), dtype=np.uint8)
    sam = build_sam2(model, ckpt, device=ctx.device, precision=precision, hydra_overrides_extra=_overrides(ctx))
    predictor = SAM2ImagePredictor(sam)
    repeat = 2 if ctx.quick else 10
    point, label = np.array([[image.shape[1] // 2, image.shape[0] // 2]]), np.array([1])
    with torch.inference_mode():
        set_image_s = _timed(lambda: predictor.set_image(image), ctx.device, repeat)
        click_s = _timed(lambda: predictor.predict(point, label, multimask_output=True), ctx.device,
                         repeat if ctx.quick else 3 * repeat)
    return {"set_image_s": set_image_s, "click_ms": 1000 * click_s, "compute_dtype": str(sam.compute_dtype),
            "image_hw": list(image.shape[:2])}


def _speed_video(ctx: Context, ckpt: str, model: str, precision: str) -> dict:
    """sam2/benchmark.py's protocol: one click on frame 0, then whole propagations; warm-up
    runs, then timed runs; seconds per frame over the timed runs."""
    import torch

    from bench.video_bench import synthetic_clip
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor(model, ckpt, device=ctx.device, precision=precision,
                                           hydra_overrides_extra=_overrides(ctx))
    bedroom = ctx.media / "bedroom" if ctx.media is not None else None
    if ctx.quick:  # loading the 24 bedroom frames would cost more than tracking three
        video, click, source = synthetic_clip(3, 240, 320), (160, 120), "synthetic 320x240 clip"
    elif bedroom is not None and bedroom.is_dir():
        video, click, source = str(bedroom), VIDEO_CLICK, "bedroom frames (960x540)"
    else:
        video, click, source = synthetic_clip(24), (250, 360), "synthetic 1280x720 clip"
    state = predictor.init_state(video)
    track = 2 if ctx.quick else None  # quick: frames 0-2 of the clip
    warm_runs, runs = (1, 1) if ctx.quick else (2, 5)
    with torch.inference_mode():
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=np.array([click], np.float32),
                                        labels=np.array([1], np.int32))
        if ctx.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        totals, frames = [], 0
        for r in range(warm_runs + runs):
            sync(ctx.device)
            t0, n = time.perf_counter(), 0
            for _ in predictor.propagate_in_video(state, max_frame_num_to_track=track):
                n += 1
            sync(ctx.device)
            if r >= warm_runs:
                totals.append(time.perf_counter() - t0)
                frames += n
    s_per_frame = sum(totals) / max(frames, 1)
    out = {"video_1obj_s_per_frame": s_per_frame, "fps": 1.0 / s_per_frame, "frames_per_run": frames // max(runs, 1),
           "warm_up_runs": warm_runs, "timed_runs": runs, "clip": source, "compute_dtype": str(predictor.compute_dtype)}
    if ctx.device.startswith("cuda"):
        out["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 1024 ** 3
    return out


def speed(rec: Recorder, ctx: Context) -> None:
    """set_image, one click and video seconds per frame for SAM 2.1 tiny and large (tiny
    only in quick mode), exact and fast, next to the official A100 figures."""
    from sam2.testing import write_random_checkpoint

    models = ["sam2.1_hiera_t"] if ctx.quick else ["sam2.1_hiera_t", "sam2.1_hiera_l"]
    rec.set("official_a100_fps", OFFICIAL_A100_FPS)
    rec.set("official_a100_fps_sept_2024", OFFICIAL_A100_FPS_SEPT_2024)
    rec.set("official_conditions", OFFICIAL_CONDITIONS)
    rec.set("model_input_px", ctx.image_size)
    if ctx.device.startswith("cuda"):
        rec.set("tf32", tf32_settings())
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            ckpt = write_random_checkpoint(os.path.join(tmp, f"{model}.pt"), model, 0)
            for precision in ("exact", "fast"):
                run_item(rec, ctx, f"{model}.{precision}.video", lambda: _speed_video(ctx, ckpt, model, precision))
                run_item(rec, ctx, f"{model}.{precision}.image", lambda: _speed_image(ctx, ckpt, model, precision))
            os.remove(ckpt)


# ---------------------------------------------------------------------------- batch throughput
def batch(rec: Recorder, ctx: Context) -> None:
    """Images per second of sam2.annotate batched (same-size groups) against a per-image
    loop, through bench/annotate_bench.py's own functions (model load included, as there)."""
    from bench import annotate_bench
    from sam2.testing import write_random_checkpoint

    annotate_bench.DEVICE = ctx.device
    n_images = 4 if ctx.quick else 40
    # quick: one small size, so that a batch of 4 forms; otherwise annotate_bench's four sizes
    sizes = [(120, 160)] if ctx.quick else annotate_bench.SIZES
    variants = ["loop", "local", "local-b4"] if ctx.quick else ["loop", "local", "local-b4", "local-b16"]
    overrides = _overrides(ctx)
    rec.set("setup", {"images": n_images, "model": "sam2.1_hiera_t", "model_input_px": ctx.image_size,
                      "sizes": sizes, "variants": variants})
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_random_checkpoint(os.path.join(tmp, "tiny.pt"), "sam2.1_hiera_t", 0)
        folder = os.path.join(tmp, "images")
        boxes = annotate_bench.make_images(folder, n_images, sizes)
        warm = os.path.join(tmp, "warm")
        warm_boxes = annotate_bench.make_images(warm, 2, sizes)
        # the first model load in a process pays the device's start-up (CUDA context, kernels)
        run_item(rec, ctx, "warm_up", lambda: {"loop_s": annotate_bench.plain_loop(warm, warm_boxes, ckpt, overrides)})

        def one(variant: str, out: str) -> dict:
            if variant == "loop":
                seconds = annotate_bench.plain_loop(folder, boxes, ckpt, overrides)
            else:
                size = int(variant[len("local-b"):]) if variant.startswith("local-b") else 1
                seconds = annotate_bench.run_annotate(folder, boxes, ckpt, overrides, out, "local", size)
            return {"seconds_total": seconds, "images_per_s": n_images / seconds}

        rounds = 1 if ctx.quick else 2
        for r in range(rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                run_item(rec, ctx, f"round{r + 1}.{v}", lambda: one(v, os.path.join(tmp, f"out_{v}")))


SECTIONS: Dict[str, Callable[[Recorder, Context], None]] = {
    "environment": environment, "parity": parity, "fast_mode": fast_mode, "speed": speed, "batch": batch,
}
