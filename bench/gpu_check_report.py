"""The report of bench/gpu_check.py: the whole record as JSON and a Markdown summary that a
reader can take in at a glance (one table per section, errors where numbers would be)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List


def write_report(report: Dict, out: Path) -> None:
    tmp = out / "gpu_check.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(out / "gpu_check.json")
    (out / "gpu_check.md").write_text(markdown(report))


def _num(value, fmt: str = ".3g") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _item_error(item) -> str:
    if not isinstance(item, dict):
        return "not run"
    if "error" in item:
        return "error: " + item["error"].splitlines()[0][:160]
    if "skipped" in item:
        return "skipped: " + item["skipped"]
    return ""


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def markdown(report: Dict) -> str:
    sections = report["sections"]
    env = sections.get("environment", {}).get("results", {}).get("info", {})
    lines = [f"# GPU check ({'quick, ' if report['quick'] else ''}device {report['device']})", ""]
    lines.append(f"- started {report['started']}, {report.get('elapsed_s', 0):.0f} s of a {report['budget_s']:.0f} s "
                 f"budget; media: {report['media']}")
    if env:
        lines.append(f"- torch {env.get('torch')}, CUDA build {env.get('cuda_build')}, cuDNN {env.get('cudnn', '-')}, "
                     f"GPU {env.get('gpu', '-')} (capability {env.get('capability', '-')}), "
                     f"fast mode computes in {env.get('fast_mode_dtype')}")
        lines.append(f"- TF32 at start: {env.get('tf32_at_start')}")
    lines += ["", *_table(["section", "status", "seconds / limit", "error"], [
        [name, s.get("status"), f"{_num(s.get('seconds'), '.0f')} / {_num(s.get('limit_s'), '.0f')}",
         (s.get("error") or "").splitlines()[0][:200] if s.get("error") else
         ", ".join(s.get("items_failed_or_skipped", []))]
        for name, s in sections.items()])]
    for name, render in (("parity", _parity), ("fast_mode", _fast), ("speed", _speed), ("batch", _batch)):
        if name in sections:
            try:
                lines += ["", *render(sections[name].get("results", {}))]
            except Exception as exc:  # a summary that cannot be drawn must not lose the JSON
                lines += ["", f"## {name}: no summary ({type(exc).__name__}: {exc}); see gpu_check.json"]
    return "\n".join(lines) + "\n"


def _parity(res: Dict) -> List[str]:
    tol = res.get("tolerances", {})
    lines = ["## Parity with the reference (exact precision, golden data of tests/data/parity)", "",
             f"Tolerances of tests/parity: features and logits relative L2 < {tol.get('features_and_logits_rel_l2')}, "
             f"scores within {tol.get('score_abs')}, masks < {tol.get('mask_mismatch')} of pixels differing; video "
             f"logits < {tol.get('video_logits_rel_l2')}, video masks < {tol.get('video_mask_mismatch')}. "
             "On CUDA the cases run twice: with torch.backends.cuda.matmul.allow_tf32 = False and "
             "torch.backends.cudnn.allow_tf32 = False set explicitly (tf32_off), then with torch's own defaults.", ""]
    rows = []
    for key, item in res.items():
        if "." not in key or key.endswith(".tf32"):
            continue
        pass_name, case = key.split(".", 1)
        tf32 = res.get(f"{pass_name}.tf32")
        flags = (f"{tf32.get('cuda.matmul.allow_tf32')}/{tf32.get('cudnn.allow_tf32')}" if isinstance(tf32, dict)
                 else "n/a")
        err = _item_error(item)
        if err:
            rows.append([pass_name, flags, case, err, "", "", "", ""])
            continue
        rows.append([pass_name, flags, case, _num(item.get("worst_features_rel_l2")), _num(item.get("worst_logits_rel_l2")),
                     _num(item.get("worst_score_abs")), _num(item.get("worst_mask_mismatch")),
                     ("yes" if item.get("within_tolerance") else "NO")
                     + (f" ({item['records']}/{item['golden_records']} records)" if "records" in item else "")])
    return lines + _table(["pass", "TF32 matmul/cudnn", "case", "features rel L2", "logits rel L2", "score abs",
                           "mask mismatch", "within"], rows)


def _fast(res: Dict) -> List[str]:
    rows = []
    for case in ("truck_prompts", "bedroom_tracking"):
        item = res.get(case)
        err = _item_error(item)
        if err:
            rows.append([case, err, "", ""])
            continue
        dtype = item.get("compute_dtype", "")
        rows.append([case, dtype.get("fast") if isinstance(dtype, dict) else "-", _num(item.get("min_mask_iou"), ".4f"),
                     "yes" if item.get("within_test_bound") else "NO"])
    return ["## Fast mode against exact (mask IoU, worst over calls or tracked records)", "",
            *_table(["case", "fast dtype", "min IoU", ">= 0.97 (tests' bound)"], rows)]


def _speed(res: Dict) -> List[str]:
    official = res.get("official_a100_fps", {})
    rows = []
    for key in [k for k in res if k.endswith(".video")]:
        model, precision, _ = key.rsplit(".", 2)
        video, image = res[key], res.get(f"{model}.{precision}.image")
        ref = official.get(model)
        row = [model, precision]
        row += [_item_error(image) or _num(image.get("set_image_s")), "" if _item_error(image)
                else _num(image.get("click_ms"))]
        if _item_error(video):
            row += [_item_error(video), "", ""]
        else:
            row += [f"{1000 * video['video_1obj_s_per_frame']:.1f}", f"{video['fps']:.1f}",
                    f"{ref} ({video['fps'] / ref:.3g}x)" if ref else "-"]
        rows.append(row)
    return [f"## Speed (one object, {res.get('model_input_px')} px model input, seeded random weights)", "",
            *_table(["model", "precision", "set_image s", "click ms", "video ms/frame", "video FPS",
                     "official A100 FPS (ours / theirs)"], rows), "",
            f"Official figures: {res.get('official_conditions', '-')} Ours: eager PyTorch, no torch.compile, "
            "TF32 at torch's defaults, 'fast' = bfloat16 image encoder and memory attention."]


def _batch(res: Dict) -> List[str]:
    setup = res.get("setup", {})
    rows = []
    loop = {}
    for key, item in res.items():
        if not key.startswith("round") or not isinstance(item, dict):
            continue
        rnd, variant = key.split(".", 1)
        err = _item_error(item)
        if err:
            rows.append([rnd, variant, err, "", None])
            continue
        if variant == "loop":
            loop[rnd] = item["images_per_s"]
        rows.append([rnd, variant, f"{item['seconds_total']:.2f}", f"{item['images_per_s']:.2f}", item["images_per_s"]])
    for row in rows:
        rate = row[4]
        row[4] = f"{rate / loop[row[0]]:.2f}x" if row[0] in loop and isinstance(rate, float) else ""
    return [f"## Batch throughput (sam2.annotate, {setup.get('images')} images of {len(setup.get('sizes', []))} "
            f"sizes, SAM 2.1 tiny at "
            f"{setup.get('model_input_px')} px, model load included)", "",
            *_table(["round", "variant", "seconds", "images/s", "vs loop"], rows)]
