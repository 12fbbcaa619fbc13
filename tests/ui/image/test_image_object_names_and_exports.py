"""The image tab's downloads: names given in the list, one mask PNG per object, and a label
PNG that resolves overlaps as the canvas draws them.

The canvas draws objects in the list's order, each over the ones before (``canvas.js``
``draw``: ``for (const o of S.objects)``; ``ui.image.view.CanvasRenderer`` sends them in
``ImageSession.objects`` order), so the object listed later is the one seen on top.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from ui.image.exports import write_object_files
from ui.image.slot import ImageSlot
from ui.image.state import ImageSession, Prediction, PromptSet
from ui.canvas.raster import make_display
from ui.common.errors import UserError

H, W = 40, 60


def _prediction(mask: np.ndarray) -> Prediction:
    return Prediction(masks=mask[None], iou=np.array([0.9], np.float32), stability=np.array([0.8], np.float32),
                      low_res_logits=np.zeros((1, 8, 8), np.float32))


def _session() -> ImageSession:
    """Three objects, the second deleted: "Object 1" and "Object 3" remain and overlap."""
    image = np.full((H, W, 3), 90, np.uint8)
    st = ImageSession()
    st.load(image, "desk photo.png", make_display(image))
    boxes = [(5, 5, 35, 30), (40, 5, 55, 10), (20, 10, 50, 35)]
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        if k:
            st.new_object()
        st.current.push(PromptSet(points=((float(x0 + 2), float(y0 + 2), 1),)))
        m = np.zeros((H, W), bool)
        m[y0:y1, x0:x1] = True
        st.set_prediction(_prediction(m))
    st.select_object(2)
    st.remove_object()
    return st


def test_rename_is_used_in_the_list_and_every_export(tmp_path):
    st = _session()
    st.select_object(3)
    assert st.rename_object("  red   cup ").name == "red cup"
    assert [o.name for o in st.objects] == ["Object 1", "red cup"]
    with pytest.raises(UserError, match="empty"):
        st.rename_object("   ")
    paths = write_object_files(st, lambda n: str(tmp_path / n))
    coco = json.load(open(next(p for p in paths if p.endswith("_masks.json"))))
    assert [a["label"] for a in coco["annotations"]] == ["Object 1", "red cup"]
    with zipfile.ZipFile(next(p for p in paths if p.endswith("_objects.zip"))) as zf:
        assert sorted(zf.namelist()) == ["objects/001_Object_1.png", "objects/003_red_cup.png"]
        cup = np.asarray(Image.open(io.BytesIO(zf.read("objects/003_red_cup.png"))))
    assert cup.dtype == np.uint8 and set(np.unique(cup)) == {0, 255}
    assert np.array_equal(cup > 0, st.objects[1].mask)


def test_per_object_zip_comes_with_a_single_object_too(tmp_path):
    st = _session()
    st.select_object(3)
    st.remove_object()
    paths = write_object_files(st, lambda n: str(tmp_path / n))
    assert [p.rsplit("_", 1)[-1] for p in paths] == ["mask.png", "cutout.png", "masks.json", "objects.zip"]


def test_label_png_overlap_is_what_the_canvas_shows_on_top(tmp_path):
    st = _session()
    labels_path = next(p for p in write_object_files(st, lambda n: str(tmp_path / n)) if p.endswith("_labels.png"))
    img = Image.open(labels_path)
    assert img.mode == "P"
    labels = np.asarray(img)
    first, last = st.objects  # the canvas draws `last` over `first`
    both = first.mask & last.mask
    assert both.any()
    assert (labels[both] == last.obj_id).all()  # the one on top wins ...
    assert last.obj_id == last.obj_id == 3  # ... under the number the page shows for it
    assert (labels[first.mask & ~last.mask] == 1).all()
    assert (labels[~(first.mask | last.mask)] == 0).all()


def test_the_canvas_draws_objects_in_list_order():
    """The premise of the overlap rule: the canvas gets the session's objects in list order
    (its draw loop paints masks in the order of that list)."""
    from ui.image.view import CanvasRenderer

    st = _session()

    class _Registry:
        def resolve(self, key):
            return "facebook/sam2.1-hiera-tiny"

    update = CanvasRenderer(_Registry())(ImageSlot(state=st)).update
    assert [o.id for o in update.objects] == [o.obj_id for o in st.objects] == [1, 3]
