"""ui.image.state.ImageSession: prompts checked against the picture, undo, refine, objects."""

import numpy as np
import pytest

from ui.canvas import raster
from ui.common.errors import UserError
from ui.image.state import ImageSession, Prediction


def _session(h=100, w=200):
    s = ImageSession()
    img = np.zeros((h, w, 3), np.uint8)
    s.load(img, "x.png", raster.make_display(img))
    return s


def _prediction(c=3, h=100, w=200):
    masks = np.zeros((c, h, w), bool)
    for i in range(c):
        masks[i, : 10 * (i + 1)] = True
    return Prediction(masks, np.array([0.2, 0.9, 0.5][:c], np.float32), np.ones(c, np.float32),
                      np.full((c, 256, 256), float(c), np.float32))


def test_prompts_need_an_image_and_must_be_inside_it():
    s = ImageSession()
    with pytest.raises(UserError, match="Load an image first"):
        s.add_point(1, 1, 1)
    s = _session()
    with pytest.raises(UserError, match="outside the image"):
        s.add_point(250, 10, 1)
    with pytest.raises(UserError, match="outside"):
        s.add_box(-5, 0, 10, 10)
    with pytest.raises(UserError, match="label"):
        s.add_point(1, 1, 2)
    with pytest.raises(UserError, match="too thin"):
        s.add_box(10, 10, 11, 50)
    assert s.current.history == []


def test_points_box_undo_refine_and_objects():
    s = _session()
    s.add_point(10, 20, 1)
    s.add_point(30, 40, 0)
    p = s.add_box(50, 60, 20, 10)
    assert p.box == (20.0, 10.0, 50.0, 60.0) and len(p.points) == 2
    coords, labels = p.point_arrays()
    assert coords.tolist() == [[10, 20], [30, 40]] and labels.tolist() == [1, 0]
    s.set_prediction(_prediction())
    assert s.current.chosen == 1  # best predicted IoU
    s.choose(2)
    assert s.current.mask.sum() == 30 * 200
    with pytest.raises(UserError, match="does not exist"):
        s.choose(3)
    r = s.refine()
    assert r.is_refinement and r.points == p.points and r.box == p.box
    assert float(r.mask_input.mean()) == 3.0
    assert s.undo() == "refinement"
    assert s.undo() == "box"
    assert s.current.prompts.box is None
    assert s.undo() == "point" and len(s.current.prompts.points) == 1
    # A new object only when the current one has prompts; each gets its own colour.
    first = s.current
    s.new_object()
    assert s.active == 1 and s.current.color != first.color
    assert s.new_object() is s.current and len(s.objects) == 2
    s.select_object(first.obj_id)
    assert s.current is first and first.obj_id == 1
    s.remove_object()
    assert len(s.objects) == 1 and s.current.color_index == 1
    s.clear_all()
    assert len(s.objects) == 1 and not s.current.history


def test_undo_with_nothing_left_and_refine_without_mask_explain_themselves():
    s = _session()
    with pytest.raises(UserError, match="no prompts"):
        s.undo()
    with pytest.raises(UserError, match="Nothing to refine"):
        s.refine()
    with pytest.raises(UserError, match="Object 4 is gone"):
        s.select_object(4)
