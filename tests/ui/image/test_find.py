"""Find's glue for the image tab without a server: objects made from found boxes, the session
bookkeeping, messages without server paths, and COCO categories from labels."""

from __future__ import annotations

import numpy as np

from sam2.find import FoundObject
from ui.common.exports import ExportedMask, coco_document
from ui.find.query import without_paths
from ui.image.find import found_to_object
from ui.image.state import ImageObject, ImageSession, PromptSet


def _found(label="car", score=0.91):
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:15] = True
    logits = np.full((256, 256), -5.0, np.float32)
    logits[60:120, 40:130] = 5.0
    return FoundObject(label, score, (5.0, 5.0, 14.0, 9.0), mask, 0.8, logits)


def test_found_object_becomes_a_box_prompted_object_with_its_mask_and_label():
    obj = found_to_object(_found(), 2)
    assert obj.name == "Object 3: car 0.91" and obj.label == "car"
    assert obj.prompts == PromptSet(box=(5.0, 5.0, 14.0, 9.0))
    assert obj.mask is not None and obj.mask.sum() == 50
    assert obj.prediction.low_res_logits.shape == (1, 256, 256) and 0 <= obj.prediction.stability[0] <= 1


def test_add_objects_replaces_an_empty_object_and_keeps_made_ones():
    st = ImageSession()
    st.add_objects([found_to_object(_found(), 0), found_to_object(_found("person", 0.5), 1)])
    assert [o.label for o in st.objects] == ["car", "person"] and st.active == 0
    st.objects[0].history.append(PromptSet(points=((1.0, 1.0, 1),)))
    st.add_objects([found_to_object(_found("dog"), 2)])
    assert [o.label for o in st.objects] == ["car", "person", "dog"] and st.active == 2
    st.add_objects([])
    assert len(st.objects) == 3
    assert ImageObject(4).name == "Object 5"  # clicked objects keep their plain names


def test_messages_lose_server_paths():
    text = "Find is unavailable: could not load the detector /srv/models/gdino: OSError: /srv/models/gdino/x.json"
    out = without_paths(text)
    assert "/srv" not in out and "gdino" in out and "x.json" in out


def test_coco_export_uses_labels_as_categories():
    m = np.zeros((4, 5), bool)
    m[1:3, 1:3] = True
    doc = coco_document([ExportedMask(m), ExportedMask(m, category="car"), ExportedMask(m, category="car")], (4, 5))
    assert doc["categories"] == [{"id": 1, "name": "object"}, {"id": 2, "name": "car"}]
    assert [a["category_id"] for a in doc["annotations"]] == [1, 2, 2]
    assert coco_document([ExportedMask(m)], (4, 5))["categories"] == [{"id": 1, "name": "object"}]


def test_a_session_takes_found_objects_only_up_to_its_limit():
    import pytest

    from ui.image.state import MAX_OBJECTS
    from ui.common.errors import UserError

    st = ImageSession()
    assert st.room == MAX_OBJECTS  # the empty first object does not count
    st.add_objects([found_to_object(_found(), i) for i in range(MAX_OBJECTS - 1)])
    assert st.room == 1
    with pytest.raises(UserError, match=f"at most {MAX_OBJECTS}"):
        st.add_objects([found_to_object(_found(), 90 + i) for i in range(2)])
    assert len(st.objects) == MAX_OBJECTS - 1  # a refused add changes nothing
