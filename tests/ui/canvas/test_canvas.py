"""PromptCanvas without a browser: event payload parsing, the update message, the PNG encoders."""

from __future__ import annotations

import base64
import io
import json
import os

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from ui.canvas import (
    EVENT_NAMES, BoxEvent, CanvasObject, CanvasPayloadError, CanvasUpdate, IndexEvent, ObjectEvent,
    PointEvent, PromptCanvas, UploadEvent, display_hw, file_ref, label_map_png, mask_png, picture_url,
)


def _decode(url: str) -> Image.Image:
    head, b64 = url.split(",", 1)
    assert head.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_point_parses_clamps_and_refuses_garbage():
    p = PointEvent.parse({"x": 449.5, "y": 2000, "label": 0, "frame": 3, "object": 2, "seq": 7}, size=(1800, 1200))
    assert p.as_point == (449.5, 1199.0, 0) and (p.frame, p.object_id, p.seq) == (3, 2, 7)
    assert PointEvent.parse({"x": -4, "y": 1, "label": 1}).x == 0.0
    for bad in ({"x": "1", "y": 1, "label": 1}, {"x": float("nan"), "y": 1, "label": 1},
                {"x": 1, "y": 1, "label": 2}, {"x": 1, "y": 1}, {"x": 1, "y": 1, "label": 1, "frame": -1}):
        with pytest.raises(CanvasPayloadError):
            PointEvent.parse(bad)
    with pytest.raises(CanvasPayloadError):
        PointEvent.parse(None)


def test_box_sorts_and_clamps_corners():
    b = BoxEvent.parse({"x0": 900, "y0": 50, "x1": 100, "y1": 5000, "seq": 1}, size=(800, 600))
    assert b.as_box == (100.0, 50.0, 799.0, 599.0)


def test_index_and_object_events():
    assert IndexEvent.parse({"index": 2}, upper=3).index == 2
    with pytest.raises(CanvasPayloadError):
        IndexEvent.parse({"index": 3}, upper=3)
    with pytest.raises(CanvasPayloadError):
        IndexEvent.parse({"index": True})
    o = ObjectEvent.parse({"object": None, "frame": 4})
    assert o.object_id is None and o.frame == 4


def test_upload_accepts_only_files_in_the_upload_folder(tmp_path):
    inside = tmp_path / "up" / "a.png"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    ok = UploadEvent.parse({"path": str(inside), "name": "a.png"}, upload_dir=str(tmp_path / "up"))
    assert ok.path == os.path.realpath(inside)
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    for path in (str(outside), str(tmp_path / "up" / ".." / "secret.txt"), "", None):
        with pytest.raises(CanvasPayloadError):
            UploadEvent.parse({"path": path}, upload_dir=str(tmp_path / "up"))


def test_mask_png_is_a_small_coloured_mask_at_display_size():
    m = np.zeros((1200, 1800), bool)
    m[300:600, 200:900] = True
    url = mask_png(m, "#1e90ff")
    img = _decode(url).convert("RGBA")
    assert img.size == (1280, 853) == display_hw(1200, 1800)[::-1]
    px = np.asarray(img)
    alpha = px[..., 3]
    inside = (300 * 853 // 1200 + 20, 500 * 1280 // 1800)
    assert alpha[inside] == 140 and tuple(px[inside][:3]) == (30, 144, 255)
    assert alpha[10, 10] == 0
    column = alpha[:, 500 * 1280 // 1800]
    top = int(np.argmax(column > 0))
    assert column[top] == 255 and column[top + 3] == 140  # an opaque outline, a translucent inside
    assert abs((alpha > 0).mean() - m.mean()) < 0.01
    assert len(url) < 6000, len(url)  # a click costs kilobytes, not a re-encoded picture
    assert mask_png(m, (30, 144, 255)) == url
    with pytest.raises(ValueError):
        mask_png(m, "blue")


def test_label_map_round_trips_region_indices():
    a = np.zeros((40, 60), bool)
    a[:, :30] = True
    b = np.zeros((40, 60), bool)
    b[10:20, 5:15] = True  # small region inside a: laid down last, stays visible
    rgb = np.asarray(_decode(label_map_png([a, b])).convert("RGB")).astype(int)
    labels = rgb[..., 0] + 256 * rgb[..., 1]
    assert labels[15, 10] == 2 and labels[30, 20] == 1 and labels[5, 50] == 0


def test_update_message_is_json_with_only_what_changed():
    u1 = CanvasUpdate(masks={0: {1: "data:x"}}, prompts={0: {1: {"points": [(1, 2, 1)], "box": None}}},
                      objects=[CanvasObject.numbered(1, 0)], ack=4).to_value()
    u2 = CanvasUpdate(masks={0: {1: "data:x"}}).to_value()
    assert u1["seq"] != u2["seq"]  # two equal changes both reach the browser
    assert u1["masks"] == {"0": {"1": "data:x"}} and u1["ack"] == 4
    assert u1["prompts"]["0"]["1"] == {"points": [[1.0, 2.0, 1]], "box": None}
    assert u1["objects"] == [{"id": 1, "color": "#1e90ff", "label": "object 1", "tag": ""}]
    assert set(u2) == {"v", "seq", "rev", "masks"}
    json.dumps(u1)
    pic = CanvasUpdate.image(picture_url(np.zeros((10, 20, 3), np.uint8)), 20, 10).to_value()
    assert pic["picture"]["width"] == 20 and pic["picture"]["url"].startswith("data:image/jpeg")
    assert file_ref("/tmp/f.png")["meta"]["_type"] == "gradio.FileData"


def test_component_exposes_every_event_and_checks_its_value():
    with gr.Blocks():
        canvas = PromptCanvas(mode="video", elem_id="c")
        for name in EVENT_NAMES:
            assert callable(getattr(canvas, name)), name
    assert canvas.props["config"]["mode"] == "video"
    assert canvas.postprocess(CanvasUpdate(hint="hi"))["hint"] == "hi"
    with pytest.raises(TypeError):
        canvas.postprocess("<p>html</p>")
    with pytest.raises(ValueError):
        PromptCanvas(mode="audio")


def test_updates_carry_strictly_increasing_revisions():
    from ui.canvas.scene import CanvasUpdate, next_revision

    revs = [CanvasUpdate().to_value()["rev"] for _ in range(50)] + [next_revision()]
    assert all(b > a for a, b in zip(revs, revs[1:]))
