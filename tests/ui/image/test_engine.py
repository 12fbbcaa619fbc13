"""The image tab's model adapter and controller with a real (random-weight) tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ui.common import spaces
from ui.image.controller import ImageController
from ui.image.engine import EverythingParams, ImageEngine
from ui.image.state import PromptSet
from ui.common.errors import UserError
from ui.models.registry import ModelRegistry
from tests.support.hub_cache import REPO_ROOT

SHAPES = f"{REPO_ROOT}/examples/shapes.png"


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    return ImageEngine(ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=tiny_checkpoint))


@pytest.fixture(scope="module")
def small_image():
    return np.asarray(Image.open(SHAPES).convert("RGB").resize((256, 192)))


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_predict_structure_refine_and_zero_gpu_path_agree(engine, small_image, monkeypatch):
    model_id = engine.ensure_model(None)
    emb = engine.encode(model_id, small_image)
    prompts = PromptSet(points=((57.0, 65.0, 1),))
    pred = engine.predict(emb, prompts)
    assert pred.masks.shape == (3, 192, 256) and pred.masks.dtype == bool
    assert pred.iou.shape == (3,) and pred.stability.shape == (3,)
    assert ((0 <= pred.stability) & (pred.stability <= 1)).all()
    assert pred.low_res_logits.shape == (3, 256, 256)
    assert pred.masks[pred.best].any()
    other = engine.predict(emb, PromptSet(points=((200.0, 150.0, 1),)))
    assert not np.array_equal(other.masks, pred.masks)
    refined = engine.predict(emb, PromptSet(points=prompts.points, mask_input=pred.low_res_logits[pred.best]))
    assert refined.masks.shape == (1, 192, 256)
    with pytest.raises(ValueError, match="at least one point"):
        engine.predict(emb, PromptSet())
    # ZeroGPU: no features kept between calls; the image is encoded inside each GPU call.
    monkeypatch.setattr(spaces, "ZERO_GPU", True)
    zemb = engine.encode(model_id, small_image)
    assert zemb.predictor is None
    zpred = engine.predict(zemb, prompts)
    assert np.array_equal(zpred.masks, pred.masks)
    np.testing.assert_allclose(zpred.iou, pred.iou, atol=1e-5)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_segment_everything_is_sorted_and_binary(engine, small_image):
    params = EverythingParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    result = engine.segment_everything(engine.ensure_model(None), small_image, params)
    assert len(result.masks) >= 1 and len(result.masks) == len(result.records)
    areas = [int(m.sum()) for m in result.masks]
    assert areas == sorted(areas, reverse=True) and all(m.shape == (192, 256) for m in result.masks)
    assert all("segmentation" not in r and "predicted_iou" in r for r in result.records)
    with pytest.raises(ValueError, match="points per side"):
        engine.segment_everything(engine.ensure_model(None), small_image, EverythingParams(points_per_side=0))


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_controller_encodes_once_per_image_per_session(engine, small_image, tmp_path):
    calls = []
    real_encode = engine.encode

    class CountingEngine:
        registry = engine.registry
        ensure_model = staticmethod(engine.ensure_model)
        predict = staticmethod(engine.predict)
        segment_everything = staticmethod(engine.segment_everything)

        @staticmethod
        def encode(model_id, image):
            calls.append(image.shape)
            return real_encode(model_id, image)

    ctl = ImageController(CountingEngine())  # type: ignore[arg-type]
    path = tmp_path / "small.png"
    Image.fromarray(small_image).save(path)
    progress = []
    ctl.load("s1", str(path))
    view = ctl.add_point("s1", 57, 65, True, progress=lambda f, d: progress.append(d))
    assert any("Encoding" in d for d in progress)
    ctl.add_point("s1", 200, 150, False)
    ctl.add_box("s1", 10, 10, 120, 120)
    ctl.choose("s1", 0)
    ctl.refine("s1")
    ctl.undo("s1")
    ctl.new_object("s1")
    view = ctl.add_point("s1", 200, 150, True)
    assert len(view.objects) == 2 and view.canvas.shape == (192, 256, 3)
    assert calls == [(192, 256, 3)]
    with pytest.raises(UserError, match="Load an image first"):
        ctl.add_point("s2", 1, 1, True)
    ctl.load("s2", str(path))
    ctl.add_point("s2", 57, 65, True)
    assert len(calls) == 2  # the other session encodes its own copy
    ctl.load("s1", str(path))
    ctl.add_point("s1", 57, 65, True)
    assert len(calls) == 3  # a new image in s1 is encoded again
    paths = ctl.export("s1")
    assert [p.rsplit("_", 1)[-1] for p in paths] == ["mask.png", "cutout.png", "masks.json", "objects.zip"]
    ctl.drop("s1")
    import os

    assert not any(os.path.exists(p) for p in paths)  # session files removed with the session


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_model_switch_predicts_again_and_a_refused_one_keeps_everything(tiny_model, small_image, tmp_path,
                                                                        monkeypatch):
    """A working switch re-predicts the session's objects with the new model; a refused one
    (weights not here) leaves model, embedding and masks as they were."""
    from sam2 import build_sam
    from ui.models.availability import HubProbe
    from ui.common.errors import ModelUnavailableError

    monkeypatch.setattr(build_sam, "build_sam2_hf", lambda model_id, **kw: tiny_model)  # "small" = tiny weights
    probe = {"reason": None}
    registry = ModelRegistry(device="cpu", default_model="tiny",
                             hub=HubProbe(probe=lambda url, timeout: probe["reason"], remember_s=0.0))
    ctl = ImageController(ImageEngine(registry))
    path = tmp_path / "small.png"
    Image.fromarray(small_image).save(path)
    ctl.load("s", str(path))
    ctl.add_point("s", 57, 65, True)
    view = ctl.set_model("s", "small")
    assert "Model set to SAM 2.1 · small" in view.status and len(view.candidates) == 3
    assert ctl.model_of("s") == "facebook/sam2.1-hiera-small"
    before = ctl.export("s")
    mask = np.asarray(Image.open(before[0]))
    probe["reason"] = "gaierror"  # the network goes; large was never downloaded
    with pytest.raises(ModelUnavailableError, match="large is unavailable.*Still using SAM 2.1 · small"):
        ctl.set_model("s", "large")
    view = ctl.view("s")
    assert ctl.model_of("s") == "facebook/sam2.1-hiera-small" and len(view.candidates) == 3
    assert np.array_equal(np.asarray(Image.open(ctl.export("s")[0])), mask)
