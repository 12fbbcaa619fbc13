"""``sam2.utils.amg`` keeps the official module's names at the official path, as a re-export of
the modules that hold them (one job each), with no code of its own."""

from __future__ import annotations

import ast
import importlib
import pathlib

import sam2.utils.amg as amg

# facebookresearch/sam2's sam2/utils/amg.py: what code written against it imports.
OFFICIAL_NAMES = (
    "MaskData", "area_from_rle", "batch_iterator", "batched_mask_to_box", "box_xyxy_to_xywh",
    "build_all_layer_point_grids", "build_point_grid", "calculate_stability_score", "coco_encode_rle",
    "generate_crop_boxes", "is_box_near_crop_edge", "mask_to_rle_pytorch", "remove_small_regions", "rle_to_mask",
    "uncrop_boxes_xyxy", "uncrop_masks", "uncrop_points",
)


def test_official_names_import_from_the_official_path():
    for name in OFFICIAL_NAMES:
        assert name in amg.__all__
        assert callable(getattr(amg, name)), name


def test_every_name_is_the_object_of_its_home_module():
    for name in amg.__all__:
        obj = getattr(amg, name)
        home = importlib.import_module(obj.__module__)
        assert home is not amg and home.__name__.startswith("sam2.utils."), (name, obj.__module__)
        assert getattr(home, name) is obj
        assert name in home.__all__, f"{name} is not public in {home.__name__}"


def test_the_shim_defines_nothing():
    tree = ast.parse(pathlib.Path(amg.__file__).read_text())
    for node in tree.body:
        assert isinstance(node, (ast.ImportFrom, ast.Assign, ast.Expr)), ast.dump(node)[:80]
