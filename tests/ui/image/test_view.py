"""The image tab's canvas renderer: only what changed travels per action (issue #14), the
picture once per image, everything again after a reload; and "pick region" of segment
everything gives an object that clicks refine. A real (random-weight) tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ui.image.controller import ImageController
from ui.image.engine import EverythingParams, ImageEngine
from ui.image.view import CanvasRenderer, CanvasView, ImageView, everything_regions
from ui.models.registry import ModelRegistry
from ui.common.errors import UserError
from tests.support.hub_cache import REPO_ROOT

SHAPES = f"{REPO_ROOT}/examples/shapes.png"


@pytest.fixture(scope="module")
def controllers(tiny_checkpoint):
    registry = ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=tiny_checkpoint)
    api = ImageController(ImageEngine(registry))
    return api, api.rendering(CanvasRenderer(registry))


@pytest.fixture(scope="module")
def small_image():
    return np.asarray(Image.open(SHAPES).convert("RGB").resize((256, 192)))


def _masks(view: CanvasView) -> dict:
    return (view.update.masks or {}).get(0, {})


def test_only_changed_masks_travel_and_a_reload_gets_everything(controllers, small_image):
    api, ui = controllers
    sid = "view-a"
    v = ui.load(sid, small_image)
    msg = v.update.to_value()
    assert msg["picture"]["width"] == 256 and msg["picture"]["url"].startswith("data:image/jpeg")
    assert "masks" not in msg and msg["selected"] == 1

    v = ui.add_point(sid, 57, 65, True)
    msg = v.update.to_value()
    assert "picture" not in msg  # the picture is not sent again
    assert list(_masks(v)) == [1] and _masks(v)[1].startswith("data:image/png")
    assert [c["url"] for c in msg["candidates"]] == [None] * 3 and msg["candidate"] == v.update.candidate
    assert msg["prompts"]["0"]["1"]["points"] == [[57.0, 65.0, 1]]

    ui.new_object(sid)
    v = ui.add_point(sid, 200, 150, True)
    assert list(_masks(v)) == [2]  # object 1's mask did not change: not sent
    assert [o["id"] for o in v.update.to_value()["objects"]] == [1, 2]

    other = (v.update.candidate + 1) % 3
    v = ui.choose(sid, other)
    assert list(_masks(v)) == [2]  # another candidate: a new mask for that object only
    v = ui.view(sid)
    assert _masks(v) == {} and "picture" not in v.update.to_value()  # nothing changed

    v = ui.remove_object(sid)
    assert _masks(v)[2] is None  # the deleted object's mask goes (object 1, selected again,
    # has its candidates computed again: its mask is sent once more)

    v = ui.view(sid, fresh=True)  # a reloaded page has nothing: it gets it all
    msg = v.update.to_value()
    assert "picture" in msg and list(_masks(v)) == [1]
    # The API endpoints' view is untouched by all this: the overlay picture.
    assert isinstance(api.view(sid), ImageView) and api.view(sid).canvas.shape == (192, 256, 3)


def test_refused_prompts_raise_and_leave_the_session(controllers, small_image):
    _, ui = controllers
    sid = "view-b"
    ui.load(sid, small_image)
    with pytest.raises(UserError, match="too thin"):
        ui.add_box(sid, 10, 10, 11, 80)
    with pytest.raises(UserError, match="outside"):
        ui.add_point(sid, 400, 10, True)
    v = ui.view(sid)
    assert v.update.to_value()["prompts"]["0"]["1"] == {"points": [], "box": None}


def test_picking_a_region_makes_an_object_that_clicks_refine(controllers, small_image):
    _, ui = controllers
    sid = "view-c"
    ui.load(sid, small_image)
    with pytest.raises(UserError, match="segment everything first"):
        ui.pick_region(sid, 0)
    params = EverythingParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    result = ui.segment_everything(sid, params)
    regions = everything_regions(result.masks, result.display)
    assert regions["count"] == len(result.masks) >= 1 and regions["url"].startswith("data:image/png")
    with pytest.raises(UserError, match="no region"):
        ui.pick_region(sid, len(result.masks))

    v = ui.pick_region(sid, 0)
    assert "Region 1 is now Object 1" in v.status
    st = ui.sessions.run(sid, lambda slot: slot.state)
    obj = st.current
    assert np.array_equal(obj.mask, np.asarray(result.masks[0])) and len(obj.prompts.points) == 1
    assert list(_masks(v)) == [1]
    v = ui.refine(sid)  # the region's mask fed back as logits
    assert "refined" in v.status
    v = ui.add_point(sid, 57, 65, True)
    assert "2 foreground" in v.status and list(_masks(v)) == [1]


def test_canvas_object_ids_are_looked_up_when_the_action_runs(controllers, small_image):
    """Two Delete presses queued behind a slow click: each names the object by its canvas id,
    so the second one deletes the object it named, not the neighbour that slid into its index."""
    _, ui = controllers
    sid = "view-ids"
    ui.load(sid, small_image)
    for x in (20, 50, 80):
        ui.add_point(sid, x, 30, True)
        ui.new_object(sid)
    st = ui.sessions.run(sid, lambda slot: slot.state)
    ids = [o.obj_id for o in st.objects if o.prompts.points]
    assert len(ids) == 3
    ui.remove_object(sid, ids[0])
    ui.remove_object(sid, ids[2])
    left = [o.obj_id for o in ui.sessions.run(sid, lambda slot: slot.state).objects if o.prompts.points]
    assert left == [ids[1]]
    with pytest.raises(UserError, match="gone"):
        ui.select_object(sid, ids[0])
    v = ui.select_object(sid, ids[1])
    assert v is not None
