"""Memory an image session keeps per object stays bounded on a 36-megapixel photo."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ui.canvas import raster
from ui.image.state import MAX_OBJECTS, ImageSession, Prediction
from ui.common.errors import UserError

from bench.image_session_memory import blob_candidates

SIDE = 6000  # 36 megapixels: ~100 MB per object before masks were packed


def _prediction(k: int, h: int = SIDE, w: int = SIDE) -> Prediction:
    masks, logits = blob_candidates(h, w, k)
    return Prediction(masks=masks, iou=np.array([0.7, 0.9, 0.8], np.float32),
                      stability=np.array([0.9, 0.9, 0.9], np.float32), low_res_logits=logits)


def test_prediction_masks_read_like_the_array_they_replace():
    masks, logits = blob_candidates(90, 120, 0)
    pred = Prediction(masks=masks, iou=np.ones(3, np.float32), stability=np.ones(3, np.float32),
                      low_res_logits=logits)
    assert pred.masks.shape == (3, 90, 120) and pred.masks.ndim == 3 and pred.masks.dtype == bool
    assert np.array_equal(np.asarray(pred.masks), masks)
    assert all(np.array_equal(pred.masks[i], masks[i]) for i in range(3))
    assert pred.masks.area(2) == int(masks[2].sum())
    one = pred.only(2)
    assert one.masks.shape == (1, 90, 120) and np.array_equal(one.masks[0], masks[2]) and not one.complete
    assert one.low_res_logits.shape == (1, 256, 256) and np.array_equal(one.low_res_logits[0], logits[2])


def test_bytes_per_object_are_bounded_on_a_36_megapixel_image():
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    session = ImageSession()
    session.load(image, "big.png", raster.make_display(image))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        chosen = []
        for k in range(3):
            if k:
                session.new_object()
            session.add_point(SIDE / 2, SIDE / 2, 1)
            session.set_prediction(_prediction(k))
            session.choose(2)
            chosen.append(session.current.mask.copy())
        kept = tracemalloc.get_traced_memory()[0] - base - sum(m.nbytes for m in chosen)
    finally:
        tracemalloc.stop()
    print(f"{kept / 3 / 2**20:.2f} MiB per object on a 36 MP image")
    assert kept < 3 * 2 * 2**20  # was ~104 MiB per object
    finished, active = session.objects[:2], session.objects[2]
    assert all(o.prediction.masks.shape[0] == 1 and o.nbytes < 1.5 * 2**20 for o in finished)
    assert active.prediction.masks.shape[0] == 3 and active.nbytes < 3 * 2**20
    # What the finished objects keep is exactly the mask that was chosen.
    for obj, mask in zip(session.objects, chosen):
        assert np.array_equal(obj.mask, mask)
    assert session.nbytes == sum(o.nbytes for o in session.objects)


def test_objects_per_session_are_capped_with_a_message():
    image = np.zeros((60, 80, 3), np.uint8)
    session = ImageSession()
    session.load(image, "small.png", raster.make_display(image))
    for k in range(MAX_OBJECTS):
        if k:
            session.new_object()
        session.add_point(10, 10, 1)
    with pytest.raises(UserError, match=f"at most {MAX_OBJECTS} objects per image; remove one"):
        session.new_object()
    session.remove_object()
    session.new_object()  # room again
    assert len(session.objects) == MAX_OBJECTS


def test_an_object_set_aside_gets_its_candidates_and_pick_back_when_selected(tiny_checkpoint, tmp_path):
    from PIL import Image

    from ui.image.controller import ImageController
    from ui.image.engine import ImageEngine
    from ui.models.registry import ModelRegistry
    from tests.support.hub_cache import REPO_ROOT

    small = Image.open(f"{REPO_ROOT}/examples/shapes.png").convert("RGB").resize((256, 192))
    path = tmp_path / "small.png"
    small.save(path)
    ctl = ImageController(ImageEngine(ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny",
                                                    checkpoint=tiny_checkpoint)))
    ctl.load("s", str(path))
    ctl.add_point("s", 57, 65, True)
    view = ctl.choose("s", 1)
    picked = ctl.sessions.get("s").state.state.current.mask.copy()
    ctl.new_object("s")
    view = ctl.add_point("s", 200, 150, True)
    first = ctl.sessions.get("s").state.state.objects[0]
    assert first.prediction.masks.shape[0] == 1 and np.array_equal(first.mask, picked)
    view = ctl.select_object("s", first.obj_id)
    assert len(view.candidates) == 3 and view.chosen == 1
    assert np.array_equal(first.mask, picked)
    with pytest.raises(UserError, match="object id must be a whole number"):
        ctl.select_object("s", 0.5)
    with pytest.raises(UserError, match="object index must be a whole number"):
        ctl.object_id_at("s", 0.5)
