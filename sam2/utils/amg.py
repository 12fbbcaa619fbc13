"""``sam2.utils.amg``: the official module's names, kept importable at their official path.

The official package keeps the helpers of its automatic mask generator in this one module,
and code written against it imports from here. Here each job has its own module and this
one only re-exports them:

* ``sam2.utils.rle``: masks <-> uncompressed and COCO run lengths (the mask encodings),
* ``sam2.utils.boxes``: boxes around masks, box formats, torchvision-exact NMS,
* ``sam2.utils.crops``: the generator's point grids and crops, crop <-> image coordinates,
* ``sam2.utils.mask_quality``: stability score and other model-free quality signals,
* ``sam2.utils.mask_data``: ``MaskData``, the generator's masks between stages,
* ``sam2.utils.mask_cleanup``: ``remove_small_regions`` beside the other small-region cleanups.

Code of this project imports from those modules; this one exists for the official API.
"""

from sam2.utils.boxes import batched_mask_to_box, batched_nms, box_area, box_xywh_to_xyxy, box_xyxy_to_xywh, nms
from sam2.utils.crops import (
    batch_iterator, build_all_layer_point_grids, build_point_grid, generate_crop_boxes, is_box_near_crop_edge,
    uncrop_boxes_xyxy, uncrop_masks, uncrop_points,
)
from sam2.utils.mask_cleanup import remove_small_regions
from sam2.utils.mask_data import MaskData
from sam2.utils.mask_quality import MaskConfidence, calculate_stability_score, count_pixels, mask_confidence
from sam2.utils.rle import (
    CocoRLE, UncompressedRLE, area_from_rle, coco_decode_rle, coco_encode_rle, mask_to_coco_rle,
    mask_to_rle_pytorch, masks_to_rle, rle_to_mask,
)

__all__ = [
    # the official module's names
    "MaskData", "area_from_rle", "batch_iterator", "batched_mask_to_box", "box_xyxy_to_xywh",
    "build_all_layer_point_grids", "build_point_grid", "calculate_stability_score", "coco_encode_rle",
    "generate_crop_boxes", "is_box_near_crop_edge", "mask_to_rle_pytorch", "remove_small_regions", "rle_to_mask",
    "uncrop_boxes_xyxy", "uncrop_masks", "uncrop_points",
    # ours, re-exported because callers of this path (the app, the tests) use them
    "CocoRLE", "MaskConfidence", "UncompressedRLE", "batched_nms", "box_area", "box_xywh_to_xyxy",
    "coco_decode_rle", "count_pixels", "mask_confidence", "mask_to_coco_rle", "masks_to_rle", "nms",
]
