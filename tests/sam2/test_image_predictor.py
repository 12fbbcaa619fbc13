"""Image predictor behaviour beyond parity: input validation, conversions, batching, API shape."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2.sam2_image_predictor import SAM2ImagePredictor


@pytest.fixture(scope="module")
def predictor(tiny_model):
    p = SAM2ImagePredictor(tiny_model)
    rng = np.random.default_rng(0)
    p.set_image(rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8))
    return p


def test_predict_before_set_image_is_a_clear_error(tiny_model):
    p = SAM2ImagePredictor(tiny_model)
    with pytest.raises(RuntimeError, match="set_image"):
        p.predict(point_coords=np.array([[10, 10]]), point_labels=np.array([1]))
    with pytest.raises(RuntimeError, match="set_image"):
        p.get_image_embedding()


def test_outputs_types_and_shapes(predictor):
    masks, scores, low = predictor.predict(np.array([[100, 150]]), np.array([1]))
    assert masks.shape == (3, 300, 400) and masks.dtype == np.bool_
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert low.shape == (3, 256, 256) and low.dtype == np.float32
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[masks[0]] = (255, 0, 0, 255)  # boolean indexing works directly
    logits, _, _ = predictor.predict(np.array([[100, 150]]), np.array([1]), return_logits=True)
    assert logits.dtype == np.float32
    np.testing.assert_array_equal(logits > 0, masks)


def test_several_boxes_at_once(predictor):
    boxes = np.array([[10, 10, 100, 100], [200, 50, 390, 290]])
    masks, scores, low = predictor.predict(box=boxes, multimask_output=False)
    assert masks.shape == (2, 1, 300, 400) and scores.shape == (2, 1) and low.shape == (2, 1, 256, 256)
    one, _, _ = predictor.predict(box=boxes[1], multimask_output=False)
    np.testing.assert_array_equal(one[0], masks[1, 0])


def test_points_and_box_together(predictor):
    masks, scores, _ = predictor.predict(np.array([[50, 50], [60, 70]]), np.array([1, 0]),
                                         box=np.array([10, 10, 200, 200]), multimask_output=False)
    assert masks.shape == (1, 300, 400)


def test_normalized_coordinates_give_the_same_answer(predictor):
    a, sa, _ = predictor.predict(np.array([[100, 150]]), np.array([1]))
    b, sb, _ = predictor.predict(np.array([[100 / 400, 150 / 300]]), np.array([1]), normalize_coords=False)
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    assert (a != b).mean() < 1e-4


@pytest.mark.parametrize("kwargs,match", [
    (dict(point_coords=np.array([[1, 2, 3]]), point_labels=np.array([1])), "N x 2"),
    (dict(point_coords=np.array([[1, 2], [3, 4]]), point_labels=np.array([1])), "one label per point"),
    (dict(point_coords=np.array([[1, 2]])), "together"),
    (dict(point_coords=np.array([[1, 2]]), point_labels=np.array([7])), "foreground"),
    (dict(point_coords=np.array([[np.nan, 2]]), point_labels=np.array([1])), "NaN"),
    (dict(box=np.array([100, 10, 50, 60])), "x1 >= x0"),
    (dict(box=np.array([1, 2, 3])), "shape 4"),
    (dict(mask_input=np.zeros((1, 64, 64))), "low-res logits"),
    (dict(box=np.array([[0, 0, 5, 5], [0, 0, 6, 6]]), mask_input=np.zeros((3, 1, 256, 256))), "number of objects"),
])
def test_bad_prompts_raise_value_errors(predictor, kwargs, match):
    with pytest.raises(ValueError, match=match):
        predictor.predict(**kwargs)


def test_refine_with_previous_logits(predictor):
    _, scores, low = predictor.predict(np.array([[100, 150]]), np.array([1]))
    masks, _, _ = predictor.predict(np.array([[100, 150]]), np.array([1]), mask_input=low[np.argmax(scores)][None],
                                    multimask_output=False)
    assert masks.shape == (1, 300, 400)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_image_conversions_feed_the_same_pixels(tiny_model):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, size=(64, 80, 3), dtype=np.uint8)
    p = SAM2ImagePredictor(tiny_model)
    p.set_image(rgb)
    ref = p.get_image_embedding().clone()
    p.set_image(Image.fromarray(rgb))
    assert np.allclose(p.get_image_embedding().numpy(), ref.numpy())
    rgba = np.concatenate([rgb, np.full((64, 80, 1), 255, np.uint8)], axis=2)
    p.set_image(rgba)  # opaque alpha: same pixels
    assert np.allclose(p.get_image_embedding().numpy(), ref.numpy())
    p.set_image((rgb.astype(np.uint16) * 257))  # 16-bit of the same picture
    assert np.allclose(p.get_image_embedding().numpy(), ref.numpy())
    p.set_image(rgb[..., 0])  # grayscale works
    assert p._orig_hw == [(64, 80)]
    with pytest.raises(ValueError):
        p.set_image(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ValueError):
        p.set_image("not an image")


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_batch_api(tiny_model):
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 255, size=(50, 60, 3), dtype=np.uint8), rng.integers(0, 255, size=(70, 40, 3), dtype=np.uint8)]
    p = SAM2ImagePredictor(tiny_model)
    with pytest.raises(RuntimeError):
        p.predict_batch([np.array([[1, 1]])], [np.array([1])])
    p.set_image_batch(imgs)
    masks, scores, lows = p.predict_batch(box_batch=[np.array([0, 0, 30, 30]), np.array([5, 5, 35, 60])],
                                          multimask_output=False)
    assert masks[0].shape == (1, 50, 60) and masks[1].shape == (1, 70, 40)
    with pytest.raises(ValueError, match="entries for 2 images"):
        p.predict_batch([np.array([[1, 1]])], [np.array([1])])
    single = SAM2ImagePredictor(tiny_model)
    single.set_image(imgs[1])
    m1, s1, _ = single.predict(box=np.array([5, 5, 35, 60]), multimask_output=False)
    np.testing.assert_allclose(s1, scores[1], atol=1e-5)


def test_max_hole_and_sprinkle_area_clean_masks_on_the_cpu(tiny_model):
    """max_hole_area fills small background holes and max_sprinkle_area removes small
    foreground islands of the low-res masks, with no compiled extension."""
    p = SAM2ImagePredictor(tiny_model, max_hole_area=10, max_sprinkle_area=10)
    low = -np.ones((1, 1, 256, 256), np.float32) * 5
    low[0, 0, 50:150, 50:150] = 5.0  # an object ...
    low[0, 0, 90:92, 90:92] = -5.0  # ... with a 4-pixel hole
    low[0, 0, 200:202, 200:202] = 5.0  # and a 4-pixel sprinkle
    low[0, 0, 10:30, 200:230] = 5.0  # a large island that stays
    import torch

    out = p._transforms.postprocess_masks(torch.from_numpy(low), (256, 256))[0, 0].numpy() > 0
    assert out[90:92, 90:92].all()
    assert not out[200:202, 200:202].any()
    assert out[10:30, 200:230].all()
    plain = SAM2ImagePredictor(tiny_model)._transforms.postprocess_masks(torch.from_numpy(low), (256, 256))
    assert not (plain[0, 0].numpy() > 0)[90:92, 90:92].any()
