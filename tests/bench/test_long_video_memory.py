"""bench/long_video_memory.py: the growth figure and the picture, on made-up checkpoints."""

from __future__ import annotations

import math

from PIL import Image

from bench.long_video_memory import draw_png, growth


def _rows(points):
    return [{"frames": f, "rss_mib": m, "disk_mib": 0.0, "s_per_frame": 0.1} for f, m in points]


def test_growth_is_per_frame_and_object_past_the_first_checkpoint():
    rows = _rows([(100, 500.0), (200, 510.0), (400, 530.0), (800, 570.0)])
    assert growth(rows, 1) == 60.0 / 600
    assert growth(rows, 3) == 60.0 / 600 / 3
    assert growth(rows[:2], 1) == 10.0 / 100  # two points: between them
    assert math.isnan(growth(rows[:1], 1))  # a run stopped after its first checkpoint


def test_the_picture_draws_ours_and_the_reference(tmp_path):
    results = {
        "edgetam/1obj/bounded": {"rows": _rows([(25, 400.0), (50, 400.0), (100, 400.1)])},
        "edgetam/1obj/unbounded": {"rows": _rows([(25, 400.0), (50, 402.0), (100, 406.0)])},
        "edgetam/1obj/reference": {"rows": _rows([(25, 470.0)]), "partial": True},
    }
    path = tmp_path / "curve.png"
    draw_png(results, str(path), "test")
    img = Image.open(path).convert("RGB")
    assert img.size == (980, 520)
    colours = set(img.getdata())
    red, light_red = (214, 39, 40), tuple(int(v + (255 - v) * 0.45) for v in (214, 39, 40))
    assert red in colours and light_red in colours
