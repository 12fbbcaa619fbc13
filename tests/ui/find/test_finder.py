"""ui/find.py, the adapter the image and video tabs call: labels, counts, messages, errors.

A stand-in detector with known boxes keeps every number exact; SAM 2 is the seeded random
tiny model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2.find import Detection
from ui.common.words import plural
from ui.find.finder import Finder, boxes_file_boxes, boxes_from_file, count_summary, query_labels
from ui.common.errors import ModelUnavailableError, UserError


class StandIn:
    name = "stand-in"

    def __init__(self, detections):
        self.detections = detections

    def detect(self, image, labels):
        return [d for d in self.detections if d.label in labels]


IMAGE = np.zeros((80, 120, 3), np.uint8)
IMAGE[10:40, 10:60] = 200
CARS = [Detection((10 + 9 * i, 10, 40 + 9 * i, 40), "car", 0.9 - 0.05 * i) for i in range(7)]
PEOPLE = [Detection((70, 40 + 15 * i, 90, 55 + 15 * i), "person", 0.8 - 0.1 * i) for i in range(3)]


@pytest.fixture(scope="module")
def predictor(tiny_model):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    p = SAM2ImagePredictor(tiny_model)
    p.set_image(IMAGE)
    return p


@pytest.mark.parametrize("label, n, text", [
    ("car", 1, "car"), ("car", 7, "cars"), ("person", 2, "people"), ("bus", 3, "buses"),
    ("traffic light", 2, "traffic lights"), ("puppy", 2, "puppies"), ("toy", 2, "toys"),
    ("cars", 2, "cars"), ("sheep", 4, "sheep"), ("glass", 2, "glasses"), ("knife", 3, "knives"),
])
def test_plural(label, n, text):
    assert plural(label, n) == text


def test_count_summary_most_first():
    assert count_summary({"person": 2, "car": 7, "dog": 0}) == "7 cars, 2 people"
    assert count_summary({"car": 1}) == "1 car"
    assert count_summary({"dog": 0}) == "nothing found"


def test_query_labels_turn_query_errors_into_prompt_errors():
    assert query_labels("Car, person") == ("car", "person")
    for bad in ("", None, "?!.", "x" * 500):
        with pytest.raises(UserError):
            query_labels(bad)


def test_find_counts_objects_per_label_with_masks(predictor):
    finder = Finder.with_detector(StandIn(CARS + PEOPLE))  # overlapping cars, IoU 0.54 < NMS's 0.7
    outcome = finder.find(predictor, IMAGE, "car, person, unicorn", threshold=0.55)
    assert outcome.summary == "7 cars, 3 people"
    scores = [o.score for o in outcome.objects]
    assert len(scores) == 10 and scores == sorted(scores, reverse=True)
    assert all(o.mask.shape == IMAGE.shape[:2] and o.low_res_logits.shape == (256, 256) for o in outcome.objects)
    assert outcome.message.startswith(f"Found {outcome.summary} (score >= 0.55).")
    assert "No unicorn found." in outcome.message
    assert [c["name"] for c in outcome.categories] == ["car", "person"]
    assert outcome.category_ids == {"car": 1, "person": 2}
    assert outcome.boxes == tuple(Detection(o.box, o.label, o.score) for o in outcome.objects)


def test_exact_counts_threshold_and_cap_through_the_adapter(predictor):
    # Scores exact in binary, so "score >= threshold" is tested right at the boundary.
    car_scores = [0.875, 0.75, 0.625, 0.5, 0.375]
    spaced = [Detection((12 * i, 0, 12 * i + 10, 10), "car", s) for i, s in enumerate(car_scores)]
    spaced += [Detection((12 * i, 50, 12 * i + 10, 60), "person", s) for i, s in enumerate([0.75, 0.5, 0.25])]
    outcome = Finder.with_detector(StandIn(spaced)).find(predictor, IMAGE, "car, person", threshold=0.5)
    assert outcome.summary == "4 cars, 2 people"  # the 0.5 ones are in, 0.375 and 0.25 out
    capped = Finder.with_detector(StandIn(spaced), max_objects=3).find_boxes(IMAGE, "car, person", threshold=0.0)
    assert capped.objects == () and [(d.label, d.score) for d in capped.boxes] == [
        ("car", 0.875), ("car", 0.75), ("person", 0.75)]  # equal scores: detector order
    assert capped.summary == "2 cars, 1 person"
    assert "8 boxes passed the threshold; kept the 3 strongest." in capped.message


def test_nothing_found_is_a_message_not_an_error(predictor):
    outcome = Finder.with_detector(StandIn(CARS)).find(predictor, IMAGE, "dog", threshold=0.3)
    assert outcome.objects == () and outcome.summary == "nothing found"
    assert outcome.message == "Found no 'dog' with a score of at least 0.30: lower the threshold or try other words."


def test_bad_threshold_and_unloadable_detector(predictor, tmp_path):
    with pytest.raises(UserError, match="between 0 and 1"):
        Finder.with_detector(StandIn(CARS)).find(predictor, IMAGE, "car", threshold=1.5)
    finder = Finder(device="cpu", detector=str(tmp_path / "no-such-detector"))
    with pytest.raises(ModelUnavailableError, match="Find is unavailable: detector folder not found"):
        finder.find(predictor, IMAGE, "car", 0.3)
    assert finder.unavailable_reason().startswith("Find is unavailable: detector folder not found")
    with pytest.raises(UserError):  # the query is checked before any detector is loaded
        finder.find(predictor, IMAGE, "  ", 0.3)


def test_box_files_through_the_adapter(predictor, tmp_path):
    good = tmp_path / "boxes.txt"
    good.write_text("0 0.3 0.3 0.2 0.3 0.9\n1 0.7 0.7 0.2 0.3 0.4\n0 0.5 0.5 0.1 0.1 0.2\n")
    outcome = boxes_from_file(predictor, IMAGE, str(good), threshold=0.3, names_text="cup\nbowl")
    assert outcome.summary == "1 cup, 1 bowl" and len(outcome.objects) == 2
    assert outcome.message == "Found 1 cup, 1 bowl (score >= 0.30)."
    video = boxes_file_boxes(IMAGE, str(good))
    assert video.objects == () and len(video.boxes) == 3 and video.summary == "2 of class 0, 1 of class 1"
    wrong = tmp_path / "other.json"
    wrong.write_text(json.dumps({"images": [{"id": 1, "width": 640, "height": 480}],
                                 "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]}))
    with pytest.raises(UserError, match="640x480 image, this image is 120x80"):
        boxes_from_file(predictor, IMAGE, str(wrong))
    with pytest.raises(UserError, match="Upload a COCO"):
        boxes_from_file(predictor, IMAGE, None)
    low = boxes_from_file(predictor, IMAGE, str(good), threshold=0.95)
    assert low.objects == () and "No box in the file has a score of at least 0.95" in low.message
