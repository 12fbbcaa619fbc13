"""Brush and eraser strokes on image objects (issue #22): rasterising, how they combine with
SAM's mask, surviving later clicks, undo, and the canvas event that carries them."""

from __future__ import annotations

import numpy as np
import pytest

from ui.canvas import CanvasPayloadError, StrokeEvent
from ui.common.errors import UserError
from ui.canvas.raster import make_display
from ui.image.state import ImageSession, Prediction
from ui.common.strokes import Stroke, apply_strokes

H, W = 60, 80


def _prediction(x0: int, x1: int) -> Prediction:
    """Three candidates; the best (index 1) is columns x0..x1 of rows 10..30."""
    masks = np.zeros((3, H, W), bool)
    masks[1, 10:30, x0:x1] = True
    return Prediction(masks=masks, iou=np.array([0.5, 0.9, 0.7], np.float32),
                      stability=np.ones(3, np.float32), low_res_logits=np.zeros((3, 256, 256), np.float32))


def _session() -> ImageSession:
    st = ImageSession()
    img = np.zeros((H, W, 3), np.uint8)
    st.load(img, "t.png", make_display(img))
    return st


def test_a_dot_is_a_disc_and_a_drag_a_round_capped_band():
    dot = apply_strokes(np.zeros((H, W), bool), (Stroke(((40.0, 30.0),), 5.0, False, (H, W)),))
    assert dot[30, 40] and dot[30, 45] and dot[25, 40] and not dot[30, 47] and not dot[36, 40]
    assert abs(int(dot.sum()) - np.pi * 25) < 20
    band = apply_strokes(np.zeros((H, W), bool), (Stroke(((10.0, 10.0), (50.0, 10.0)), 3.0, False, (H, W)),))
    assert band[10, 10:51].all() and band[8:13, 30].all() and not band[15, 30] and not band[5, 30]
    assert band[10, 7] and not band[10, 5]  # round cap past the end point
    # A stroke near the edge is cropped to the image.
    edge = apply_strokes(np.zeros((H, W), bool), (Stroke(((0.0, 0.0),), 4.0, False, (H, W)),))
    assert edge[0, 0] and edge.sum() < np.pi * 16


def test_strokes_apply_after_sams_mask_in_order_and_survive_a_click():
    st = _session()
    st.add_point(15, 20, 1)
    st.set_prediction(_prediction(10, 20))
    base = st.current.mask.copy()
    st.add_stroke(Stroke(((40.0, 20.0),), 4.0, False, (H, W)))  # brush outside the mask
    st.add_stroke(Stroke(((15.0, 20.0),), 3.0, True, (H, W)))   # eraser inside it
    m = st.current.mask
    assert m[20, 40] and not base[20, 40]
    assert not m[20, 15] and base[20, 15]
    assert st.current.prediction is not None  # a stroke keeps the decoder's candidates
    # A later click re-runs the decoder (a new prediction); the strokes are laid on it again.
    st.add_point(12, 25, 1)
    assert st.current.prediction is None and len(st.current.prompts.strokes) == 2
    st.set_prediction(_prediction(5, 25))
    m = st.current.mask
    assert m[20, 40] and not m[20, 15] and m[20, 6]
    # The exports read the same mask.
    assert st.finished_objects()[0].mask[20, 40]


def test_undo_steps_back_through_strokes_keeping_the_prediction():
    st = _session()
    st.add_point(15, 20, 1)
    st.set_prediction(_prediction(10, 20))
    st.add_stroke(Stroke(((40.0, 20.0),), 4.0, False, (H, W)))
    st.add_stroke(Stroke(((15.0, 20.0),), 3.0, True, (H, W)))
    pred = st.current.prediction
    assert st.undo() == "eraser stroke"
    assert st.current.prediction is pred and st.current.mask[20, 15] and st.current.mask[20, 40]
    assert st.undo() == "brush stroke"
    assert not st.current.mask[20, 40]
    assert st.undo() == "point"
    assert st.current.prediction is None and not st.current.history


def test_a_stroke_needs_a_mask_and_the_same_picture():
    st = _session()
    with pytest.raises(UserError, match="Click on the object first"):
        st.add_stroke(Stroke(((4.0, 4.0),), 2.0, False, (H, W)))
    st.add_point(15, 20, 1)
    st.set_prediction(_prediction(10, 20))
    with pytest.raises(UserError, match="another picture"):
        st.add_stroke(Stroke(((4.0, 4.0),), 2.0, False, (H + 1, W)))
    with pytest.raises(ValueError):
        Stroke((), 2.0, False, (H, W))
    with pytest.raises(ValueError):
        Stroke(((1.0, 1.0),), 0.0, False, (H, W))


def test_stroke_event_parses_clamps_and_refuses_garbage():
    e = StrokeEvent.parse({"points": [[-5, 3], [900, 2000]], "radius": 4.5, "erase": True, "seq": 3, "object": 2},
                          size=(800, 600))
    assert e.points == ((0.0, 3.0), (799.0, 599.0)) and e.radius == 4.5 and e.erase and e.seq == 3
    for bad in ({"points": [], "radius": 3}, {"points": [[1, 2]], "radius": 0}, {"points": [[1, 2]], "radius": 1e9},
                {"points": [[1, "a"]], "radius": 3}, {"points": [[1, 2, 3]], "radius": 3},
                {"points": [[1, 2]], "radius": 3, "erase": "yes"}, {"points": [[1, 2]] * 5000, "radius": 3},
                {"points": "1,2", "radius": 3}):
        with pytest.raises(CanvasPayloadError):
            StrokeEvent.parse(bad)
