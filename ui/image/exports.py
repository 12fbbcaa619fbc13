"""The image tab's downloads, written from a session's state: the objects' mask PNG, RGBA
cutout, COCO RLE JSON and label PNG, and the COCO JSON of "segment everything".

The file formats are ``ui.common.exports``'s (shared with the video tab); this module only decides
what of an ``ImageSession`` goes into them. ``path_of(name)`` gives where a file goes (the
session's own folder, ``ui.common.sessions.SessionFiles``).
"""

from __future__ import annotations

from typing import Callable, List

from ui.common import exports
from ui.image.state import ImageSession
from ui.common.errors import UserError

PathOf = Callable[[str], str]


def write_object_files(st: ImageSession, path_of: PathOf) -> List[str]:
    """Mask PNG (all objects), RGBA cutout, COCO JSON, a zip of one mask PNG per object and,
    with several objects, a label PNG.

    Objects are written in the list's order, the order the canvas draws them (each over the
    ones before): in the label PNG the later object wins an overlap, as on screen, and its
    pixel value is the object's number ("Object 3" is 3, whatever was deleted before it).
    Names are the list's (renamed or not)."""
    done = st.finished_objects()
    if not done:
        raise UserError("Nothing to download yet: segment at least one object.")
    assert st.image is not None
    stem = exports.safe_stem(st.name)
    masks = [o.mask for o in done]
    union = exports.union_mask(masks, st.hw)  # type: ignore[arg-type]
    paths = [
        exports.write_mask_png(union, path_of(f"{stem}_mask.png")),
        exports.write_cutout_png(st.image, union, path_of(f"{stem}_cutout.png")),
    ]
    items = []
    for o, mask in zip(done, masks):
        assert o.prediction is not None
        coords, labels = o.prompts.point_arrays()
        items.append(exports.ExportedMask(
            mask=mask,  # type: ignore[arg-type]
            label=o.name,
            predicted_iou=float(o.prediction.iou[o.chosen]),
            stability_score=float(o.prediction.stability[o.chosen]),
            point_coords=[] if coords is None else coords.tolist(),
            point_labels=[] if labels is None else labels.tolist(),
            box_xyxy=o.prompts.box,
            category=o.label or "object",
        ))
    paths.append(exports.write_coco_json(items, st.hw, path_of(f"{stem}_masks.json"), file_name=st.name))
    paths.append(exports.write_object_masks_zip([(o.obj_id, o.name, m) for o, m in zip(done, masks)],
                                                path_of(f"{stem}_objects.zip")))
    if len(done) > 1:
        paths.append(exports.write_label_png(masks, path_of(f"{stem}_labels.png"),  # type: ignore[arg-type]
                                             values=[o.obj_id for o in done]))
    return paths


def write_everything_json(st: ImageSession, path_of: PathOf) -> str:
    """The COCO RLE JSON of the session's "segment everything" result, with each mask's scores
    and the point that produced it."""
    assert st.everything is not None
    items = [
        exports.ExportedMask(
            mask=m,
            label=f"mask {i + 1}",
            predicted_iou=r.get("predicted_iou"),
            stability_score=r.get("stability_score"),
            point_coords=[tuple(p) for p in r.get("point_coords", [])],
            point_labels=[1] * len(r.get("point_coords", [])),
        )
        for i, (m, r) in enumerate(zip(st.everything.masks, st.everything.records))
    ]
    return exports.write_coco_json(items, st.hw, path_of(f"{exports.safe_stem(st.name)}_everything.json"),
                                   file_name=st.name)
