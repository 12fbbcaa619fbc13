"""``--engine ray`` on a local Ray (2 CPUs, actors asking half a CPU each): the same files as the
local engine, and complete output when a worker is killed mid-run (Ray restarts it and retries)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray")

from sam2.annotate import annotate  # noqa: E402
from sam2.annotate.engine_ray import RayOptions  # noqa: E402

SMALL = ("++model.image_size=256",)


def make_images(folder, n):
    """``n`` images of two sizes with a bright square, and a COCO box file naming them."""
    rs = np.random.RandomState(3)
    images, anns = [], []
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        h, w = (48, 64) if i % 3 else (40, 56)
        a = (rs.rand(h, w, 3) * 60).astype(np.uint8)
        a[8:28, 10 + i % 5:30 + i % 5] = 230
        Image.fromarray(a).save(os.path.join(folder, f"im{i:02d}.png"))
        images.append({"id": i + 1, "file_name": f"im{i:02d}.png", "width": w, "height": h})
        anns.append({"image_id": i + 1, "bbox": [8 + i % 5, 6, 24, 24], "category_id": 1, "score": 0.9})
    path = os.path.join(os.path.dirname(folder), "boxes.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "square"}]}, f)
    return path


def _run(inp, out, boxes, ckpt, engine, **ray_kw):
    ray_options = RayOptions(local_cpus=2, cpus_per_actor=0.5, **ray_kw) if engine == "ray" else None
    return annotate(inp, out, boxes=boxes, checkpoint=ckpt, overrides=SMALL, device="cpu", precision="exact",
                    threads=1, progress=False, engine=engine, ray_options=ray_options)


@pytest.fixture(autouse=True)
def _no_ray_left_running():
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.mark.slow  # ~40 s: Ray's start-up and two model loads
def test_ray_engine_writes_the_same_files_as_the_local_engine(tiny_checkpoint, tmp_path):
    inp = str(tmp_path / "in")
    boxes = make_images(inp, 6)
    local = _run(inp, str(tmp_path / "local"), boxes, tiny_checkpoint, "local")
    on_ray = _run(inp, str(tmp_path / "ray"), boxes, tiny_checkpoint, "ray", actors=2, rows_per_batch=2)
    assert on_ray.images_done == local.images_done == 6 and on_ray.failed == []
    assert not ray.is_initialized()  # the Ray it started is stopped again
    for name in ["annotations.json"] + [f"labels/im{i:02d}.txt" for i in range(6)]:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def _kill_one_actor_when(parts_dir, at_least, killed):
    """Find a Ray Data worker running our actor (by its process title) and SIGKILL it, once."""
    deadline = time.time() + 300
    while time.time() < deadline and not killed:
        if os.path.isdir(parts_dir) and len(os.listdir(parts_dir)) >= at_least:
            for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        title = f.read().decode(errors="replace")
                except OSError:
                    continue
                if "RayAnnotator" in title and title.startswith("ray::"):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
        time.sleep(0.05)


@pytest.mark.slow  # ~60 s
def test_a_worker_killed_midway_still_gives_complete_output(tiny_checkpoint, tmp_path):
    inp = str(tmp_path / "in")
    boxes = make_images(inp, 10)
    killed = []
    killer = threading.Thread(target=_kill_one_actor_when, args=(str(tmp_path / "ray" / "parts"), 2, killed))
    killer.start()
    summary = _run(inp, str(tmp_path / "ray"), boxes, tiny_checkpoint, "ray", actors=1, rows_per_batch=1)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert summary.images_done == 10 and summary.failed == [] and summary.not_finished == 0
    local = _run(inp, str(tmp_path / "local"), boxes, tiny_checkpoint, "local")
    assert local.images_done == 10
    assert (tmp_path / "ray" / "annotations.json").read_bytes() == \
        (tmp_path / "local" / "annotations.json").read_bytes()
