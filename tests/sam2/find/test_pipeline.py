"""Find and count, library side: query parsing, box selection, and boxes -> SAM 2 masks.

A stand-in detector with known boxes makes counts, thresholds and the cap exact; SAM 2 is
the seeded random tiny model (the masks are checked against direct predictor calls).
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2.find import (
    MAX_OBJECTS,
    Detection,
    QueryError,
    coco_categories,
    find_boxes,
    find_objects,
    grounding_prompt,
    parse_query,
    select_detections,
)
from sam2.find import pipeline as find_pipeline
from sam2.find.testing import StandInDetector


# ----------------------------------------------------------------------------- query
@pytest.mark.parametrize("text, labels", [
    ("car", ("car",)),
    ("Car, PERSON; dog.", ("car", "person", "dog")),
    ("  traffic   light ,, car\n(car) ", ("traffic light", "car")),
    (["Cat", "a dog"], ("cat", "a dog")),
    ("salt and pepper shaker", ("salt and pepper shaker",)),
    ("'cup'?!", ("cup",)),
])
def test_query_becomes_clean_labels(text, labels):
    assert parse_query(text) == labels


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("?!...,;", "no word"),
    ("a" * 500, "500 characters"),
    (", ".join(f"thing{i}" for i in range(17)), "at most 16"),
])
def test_unusable_queries_are_refused_with_a_reason(text, words):
    with pytest.raises(QueryError, match=words):
        parse_query(text)


def test_grounding_prompt_is_lower_case_dot_separated_with_spans():
    text, spans = grounding_prompt(("car", "traffic light"))
    assert text == "car . traffic light ."
    assert [text[a:b] for a, b in spans] == ["car", "traffic light"]


# ----------------------------------------------------------------------------- selection
def _dets(scores, label="car", step=30):
    return [Detection((i * step, 0, i * step + 20, 20), label, s) for i, s in enumerate(scores)]


def test_threshold_keeps_scores_at_or_above_it_strongest_first():
    sel = select_detections(_dets([0.2, 0.5, 0.3, 0.29999, 0.9]), threshold=0.3)
    assert [d.score for d in sel.kept] == [0.9, 0.5, 0.3]
    assert (sel.candidates, sel.below_threshold, sel.over_cap, sel.duplicates) == (5, 2, 0, 0)


def test_cap_keeps_the_strongest_and_counts_the_rest():
    scores = list(np.linspace(0.31, 0.99, 250))
    sel = select_detections(_dets(scores, step=3), threshold=0.3, max_objects=100)
    assert len(sel.kept) == 100 and sel.over_cap == 150
    assert [d.score for d in sel.kept] == sorted(scores, reverse=True)[:100]


def test_equal_scores_keep_their_order():
    sel = select_detections(_dets([0.5, 0.5, 0.5]), threshold=0.0)
    assert [d.box[0] for d in sel.kept] == [0, 30, 60]


def test_nms_merges_duplicates_of_one_label_only():
    dets = [Detection((0, 0, 100, 100), "car", 0.9), Detection((2, 2, 100, 100), "car", 0.8),
            Detection((2, 2, 100, 100), "truck", 0.7), Detection((200, 0, 300, 100), "car", 0.6)]
    sel = select_detections(dets, threshold=0.0, nms_iou=0.7)
    assert [(d.label, d.score) for d in sel.kept] == [("car", 0.9), ("truck", 0.7), ("car", 0.6)]
    assert sel.duplicates == 1
    assert len(select_detections(dets, threshold=0.0).kept) == 4  # no NMS unless asked


def test_bad_selection_arguments():
    with pytest.raises(ValueError, match="threshold"):
        select_detections([], threshold=1.5)
    with pytest.raises(ValueError, match="max_objects"):
        select_detections([], max_objects=0)
    with pytest.raises(ValueError, match="x1 >= x0"):
        Detection((10, 0, 5, 5), "car")


def test_coco_categories_follow_first_appearance():
    cats, ids = coco_categories(["car", "person", "car"])
    assert cats == [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}]
    assert ids == {"car": 1, "person": 2}


# ----------------------------------------------------------------------------- pipeline
IMAGE_HW = (96, 128)


@pytest.fixture(scope="module")
def scene():
    rng = np.random.RandomState(3)
    image = (rng.rand(*IMAGE_HW, 3) * 60).astype(np.uint8)
    image[10:40, 10:50] = 220
    image[50:90, 70:120] = 160
    return image


@pytest.fixture(scope="module")
def predictor(tiny_model, scene):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    p = SAM2ImagePredictor(tiny_model)
    p.set_image(scene)
    return p


KNOWN = [
    Detection((10, 10, 50, 40), "car", 0.9),
    Detection((70, 50, 120, 90), "car", 0.6),
    Detection((60, 5, 90, 30), "person", 0.45),
    Detection((0, 60, 30, 95), "person", 0.25),
    Detection((100, 0, 127, 20), "dog", 0.1),
]


def test_text_to_objects_counts_and_masks_match_direct_prompts(predictor, scene):
    detector = StandInDetector(KNOWN)
    result = find_objects(predictor, scene, "car, person, unicorn", detector=detector, threshold=0.3,
                          image_is_set=True)
    assert detector.calls == [(scene.shape, ("car", "person", "unicorn"))]
    assert [(o.label, o.score) for o in result.objects] == [("car", 0.9), ("car", 0.6), ("person", 0.45)]
    assert result.counts() == {"car": 2, "person": 1, "unicorn": 0}
    assert result.missing_labels == ("unicorn",)
    assert result.selection.below_threshold == 1
    for obj in result.objects:
        assert obj.mask.shape == IMAGE_HW and obj.mask.dtype == bool
        masks, ious, _ = predictor.predict(box=np.array(obj.box), multimask_output=False)
        assert np.array_equal(obj.mask, masks[0])  # one batched call == one call per box
        assert obj.predicted_iou == pytest.approx(float(ious[0]), abs=1e-5)
        assert obj.low_res_logits is None


def test_single_box_and_chunked_decoding_give_the_same_masks(predictor, scene, monkeypatch):
    one = find_objects(predictor, scene, boxes=[KNOWN[0]], image_is_set=True, keep_low_res_logits=True)
    assert len(one.objects) == 1 and one.objects[0].mask.shape == IMAGE_HW
    assert one.objects[0].low_res_logits.shape == (256, 256)
    whole = find_objects(predictor, scene, boxes=KNOWN, threshold=0.0, image_is_set=True)
    monkeypatch.setattr(find_pipeline, "DECODE_BUDGET_BYTES", 4 * IMAGE_HW[0] * IMAGE_HW[1] * 2)  # 2 per call
    chunked = find_objects(predictor, scene, boxes=KNOWN, threshold=0.0, image_is_set=True)
    assert len(whole.objects) == len(chunked.objects) == 5
    for a, b in zip(whole.objects, chunked.objects):
        assert np.array_equal(a.mask, b.mask) and a.predicted_iou == pytest.approx(b.predicted_iou, abs=1e-5)


def test_hundreds_of_boxes_are_capped_strongest_first(predictor, scene):
    # The default cap (MAX_OBJECTS = 100) is checked exactly on the selection above; decoding
    # 100 masks here would only slow the suite down, so the pipeline is given a cap of 6.
    assert MAX_OBJECTS == 100
    boxes = [Detection((i % 100, i % 60, i % 100 + 20, i % 60 + 30), "car", 0.3 + 0.002 * i) for i in range(300)]
    result = find_objects(predictor, scene, "car", detector=StandInDetector(boxes), threshold=0.3,
                          image_is_set=True, nms_iou=None, max_objects=6)
    assert len(result.objects) == 6 and result.selection.over_cap == 294
    assert [o.score for o in result.objects] == sorted((d.score for d in boxes), reverse=True)[:6]


def test_the_cap_shrinks_so_masks_fit_the_memory_budget(predictor, scene, monkeypatch):
    monkeypatch.setattr(find_pipeline, "MASKS_BUDGET_BYTES", 3 * IMAGE_HW[0] * IMAGE_HW[1])  # room for 3 masks
    result = find_objects(predictor, scene, boxes=KNOWN, threshold=0.0, image_is_set=True)
    assert [o.score for o in result.objects] == [0.9, 0.6, 0.45]
    assert result.selection.max_objects == 3 and result.selection.over_cap == 2


def test_nothing_found_leaves_the_predictor_alone(tiny_model, scene):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    fresh = SAM2ImagePredictor(tiny_model)
    result = find_objects(fresh, scene, "dog", detector=StandInDetector(KNOWN), threshold=0.5)
    assert result.objects == () and result.counts() == {"dog": 0}
    assert not fresh._is_image_set  # no box kept: the image was not even encoded


def test_image_is_set_is_checked(tiny_model, scene):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    with pytest.raises(RuntimeError, match="set_image"):
        find_objects(SAM2ImagePredictor(tiny_model), scene, boxes=KNOWN[:1], image_is_set=True)


def test_boxes_are_clipped_and_arguments_checked(scene):
    labels, sel = find_boxes(scene, boxes=[Detection((-10, -5, 40, 30), "cup", 0.5),
                                           Detection((200, 200, 300, 300), "cup", 0.9)])
    assert labels == ("cup",) and [d.box for d in sel.kept] == [(0.0, 0.0, 40.0, 30.0)]
    with pytest.raises(ValueError, match="either"):
        find_boxes(scene, "car", boxes=KNOWN)
    with pytest.raises(ValueError, match="detector"):
        find_boxes(scene, "car")
    with pytest.raises(QueryError):
        find_boxes(scene, " . ", detector=StandInDetector(KNOWN))
