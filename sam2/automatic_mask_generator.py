"""SAM2AutomaticMaskGenerator: "segment everything" by prompting SAM 2 with a grid of points.

Pipeline, per image crop (the whole image, plus the crops of ``crop_n_layers`` layers):

1. encode the crop once, then decode a single-point prompt at every grid point, in batches of
   ``points_per_batch`` prompts (three candidate masks per point with ``multimask_output``);
2. drop candidates whose predicted IoU is not above ``pred_iou_thresh`` or whose stability
   score is below ``stability_score_thresh``; binarise, box, and drop masks that touch an
   inner crop edge (they are probably cut off);
3. store survivors as run-length encodings, then suppress duplicates with a box NMS.

Across crops a second NMS prefers masks from smaller crops. Everything that decides which
masks are kept, and in which order, follows the reference implementation exactly, so with the
same weights the same records come out.

Long runs: ``generate(image, progress=..., stop=...)`` reports ``(batches done, total)`` after
every batch of prompts and checks ``stop`` before each crop's encoding and each batch; when
it is set the run ends with ``GenerationCancelled`` within one batch. Neither changes the
records of a run that completes.

Speed and memory: the decoder returns 256 x 256 logits; only candidates that pass the
predicted-IoU filter are upsampled to the crop's size, a slice at a time (at most
``max_logits_bytes`` of full-resolution logits), then filtered and encoded, and masks are kept
only as RLEs afterwards.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple, TypedDict, Union

import numpy as np
import torch

from sam2.assembly import build_image_model_hf
from sam2.media.images import to_rgb_uint8
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.utils.boxes import batched_mask_to_box, batched_nms, box_area, box_xyxy_to_xywh
from sam2.utils.crops import (
    batch_iterator, build_all_layer_point_grids, generate_crop_boxes, is_box_near_crop_edge, uncrop_boxes_xyxy,
    uncrop_points,
)
from sam2.utils.mask_cleanup import remove_small_regions
from sam2.utils.mask_data import MaskData
from sam2.utils.mask_quality import calculate_stability_score
from sam2.utils.rle import CocoRLE, UncompressedRLE, area_from_rle, coco_encode_rle, masks_to_rle, rle_to_mask

__all__ = ["SAM2AutomaticMaskGenerator", "MaskRecord", "OUTPUT_MODES", "GenerationCancelled"]

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")

# Options of the model builders that ``from_pretrained`` (and the reference's habit of passing
# the same kwargs to the builder and to the generator) may hand to the constructor.
_BUILDER_OPTIONS = {"device", "mode", "hydra_overrides_extra", "apply_postprocessing", "config_file", "ckpt_path"}

# Masks filtered and encoded together: bounds the temporary boolean/float copies.
_POSTPROCESS_PIXELS = 1 << 26


#: ``progress(batches_done, batches_total)``, called after every batch of prompts.
ProgressCallback = Callable[[int, int], None]


class GenerationCancelled(RuntimeError):
    """``generate`` stopped early because its ``stop`` flag was set; nothing is returned."""


@dataclass
class _RunControl:
    """Progress and cancellation of one ``generate`` call (no effect on its results)."""

    total: int
    progress: Optional[ProgressCallback] = None
    stop: Any = None  # anything with ``is_set()`` (threading.Event), or a callable returning bool
    done: int = 0

    def check(self) -> None:
        if self.stop is None:
            return
        stopped = self.stop.is_set() if hasattr(self.stop, "is_set") else self.stop()
        if stopped:
            raise GenerationCancelled(f"segment everything was cancelled after {self.done} of {self.total} batches")

    def batch_done(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


class MaskRecord(TypedDict):
    """One generated mask, in the official record format."""

    segmentation: Union[np.ndarray, UncompressedRLE, CocoRLE]  # H x W bool, or an RLE dict
    area: int  # pixels in the mask
    bbox: List[float]  # XYWH around the mask (inclusive pixel ends, so w = x_max - x_min)
    predicted_iou: float  # the model's own estimate of the mask's quality
    point_coords: List[List[float]]  # the prompt point that produced it, image pixels
    stability_score: float  # IoU of the mask cut at mask_threshold +/- stability_score_offset
    crop_box: List[float]  # XYWH of the image crop it came from


class SAM2AutomaticMaskGenerator:
    """Generate masks for everything in an image with a SAM 2 model.

    Arguments (same names and defaults as the official class):

    * ``points_per_side``: the grid is ``points_per_side**2`` points; exclusive with ``point_grids``.
    * ``points_per_batch``: prompts decoded together (more is faster and uses more memory).
    * ``pred_iou_thresh``: keep masks whose predicted IoU is above this (0 disables).
    * ``stability_score_thresh`` / ``stability_score_offset``: keep masks whose stability score
      (IoU of the mask cut at ``mask_threshold`` +/- offset) is at least this (0 disables).
    * ``mask_threshold``: logit cut that binarises masks.
    * ``box_nms_thresh``: box IoU above which duplicates within a crop are suppressed.
    * ``crop_n_layers``: extra layers of crops; layer i has 2^i x 2^i crops.
    * ``crop_nms_thresh``: box IoU for duplicates between crops (smaller crops win).
    * ``crop_overlap_ratio``: overlap of first-layer crops as a fraction of the short side.
    * ``crop_n_points_downscale_factor``: layer i uses ``points_per_side / factor**i`` points a side.
    * ``point_grids``: explicit grids (N x 2, normalised to [0, 1]), one per layer.
    * ``min_mask_region_area``: holes and specks smaller than this (in low-res mask pixels)
      are removed from the decoder's masks before upsampling.
    * ``output_mode``: ``"binary_mask"``, ``"uncompressed_rle"`` or ``"coco_rle"`` (the COCO
      string format, encoded here without pycocotools).
    * ``use_m2m``: refine each candidate once more, feeding its own low-res mask back.
    * ``multimask_output``: three candidates per point instead of one.
    * ``max_logits_bytes`` (ours): upper bound for the full-resolution logits held at once
      while filtering (they are upsampled and filtered in slices); results do not depend on it.
    """

    def __init__(
        self,
        model,
        points_per_side: Optional[int] = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float = 0.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: Optional[List[np.ndarray]] = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
        max_logits_bytes: int = 1 << 30,
        **kwargs,
    ) -> None:
        unknown = sorted(set(kwargs) - _BUILDER_OPTIONS)
        if unknown:
            warnings.warn(f"SAM2AutomaticMaskGenerator ignores unknown options: {', '.join(unknown)}", stacklevel=2)
        if (points_per_side is None) == (point_grids is None):
            raise ValueError("give exactly one of points_per_side and point_grids")
        if crop_n_layers < 0:
            raise ValueError(f"crop_n_layers must be >= 0, got {crop_n_layers}")
        if points_per_side is not None:
            if points_per_side < 1:
                raise ValueError(f"points_per_side must be >= 1, got {points_per_side}")
            if crop_n_points_downscale_factor < 1:
                raise ValueError("crop_n_points_downscale_factor must be >= 1")
            if int(points_per_side / crop_n_points_downscale_factor**crop_n_layers) < 1:
                raise ValueError(
                    f"points_per_side={points_per_side} leaves no points in crop layer {crop_n_layers} "
                    f"with crop_n_points_downscale_factor={crop_n_points_downscale_factor}"
                )
            grids = build_all_layer_point_grids(points_per_side, crop_n_layers, crop_n_points_downscale_factor)
        else:
            grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
            if len(grids) < crop_n_layers + 1:
                raise ValueError(f"point_grids has {len(grids)} grids; crop_n_layers={crop_n_layers} needs {crop_n_layers + 1}")
            for i, g in enumerate(grids):
                if g.ndim != 2 or g.shape[1] != 2 or g.shape[0] == 0:
                    raise ValueError(f"point_grids[{i}] must be a non-empty N x 2 array, got shape {g.shape}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {', '.join(OUTPUT_MODES)}; got {output_mode!r}")
        if points_per_batch < 1:
            raise ValueError(f"points_per_batch must be >= 1, got {points_per_batch}")
        if max_logits_bytes < 1:
            raise ValueError("max_logits_bytes must be positive")

        self.point_grids = grids
        self.predictor = SAM2ImagePredictor(
            model, max_hole_area=min_mask_region_area, max_sprinkle_area=min_mask_region_area
        )
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.mask_threshold = mask_threshold
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.crop_n_points_downscale_factor = crop_n_points_downscale_factor
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.use_m2m = use_m2m
        self.multimask_output = multimask_output
        self.max_logits_bytes = int(max_logits_bytes)
        self._control = _RunControl(0)

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2AutomaticMaskGenerator":
        """Build the model of a Hugging Face id (e.g. ``facebook/sam2.1-hiera-large``) and a
        generator on it. Generator options go to the generator, the rest to the builder."""
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "model", "kwargs"}
        gen_kwargs = {k: v for k, v in kwargs.items() if k in own}
        model_kwargs = {k: v for k, v in kwargs.items() if k not in own}
        return cls(build_image_model_hf(model_id, **model_kwargs), **gen_kwargs)

    # ------------------------------------------------------------------ public

    def count_batches(self, image_hw: Tuple[int, int]) -> int:
        """How many decoder batches ``generate`` runs on an image of this size (all crops)."""
        _, layer_idxs = generate_crop_boxes(tuple(image_hw), self.crop_n_layers, self.crop_overlap_ratio)
        return sum(math.ceil(len(self.point_grids[layer]) / self.points_per_batch) for layer in layer_idxs)

    @torch.no_grad()
    def generate(
        self, image: np.ndarray, *, progress: Optional[ProgressCallback] = None, stop: Any = None
    ) -> List[MaskRecord]:
        """Masks for everything in ``image`` (H x W x 3 uint8 RGB; other layouts are converted
        by ``sam2.media.images.to_rgb_uint8``), as a list of :class:`MaskRecord` dicts.

        Records come in the reference's order: by crop (smaller crops first when there are
        several), then by predicted IoU, best first.

        ``progress(done, total)`` (ours, optional) is called after each batch of prompts;
        ``stop`` (ours, optional: a ``threading.Event`` or a callable returning bool) is
        checked before each crop and each batch, and ends the run with
        :class:`GenerationCancelled` once set.
        """
        rgb = to_rgb_uint8(image)
        if rgb.shape[0] == 0 or rgb.shape[1] == 0:
            raise ValueError(f"image has an empty side: {rgb.shape[:2]}")
        self._control = _RunControl(self.count_batches(rgb.shape[:2]), progress, stop)
        try:
            data = self._generate_masks(rgb)
        finally:
            self._control = _RunControl(0)
        records: List[MaskRecord] = []
        for i, rle in enumerate(data.rles):
            records.append(
                {
                    "segmentation": self._encode(rle),
                    "area": area_from_rle(rle),
                    "bbox": [float(v) for v in box_xyxy_to_xywh(data.boxes[i]).tolist()],
                    "predicted_iou": float(data.iou_preds[i].item()),
                    "point_coords": [[float(v) for v in data.points[i].tolist()]],
                    "stability_score": float(data.stability_score[i].item()),
                    "crop_box": [float(v) for v in box_xyxy_to_xywh(data.crop_boxes[i]).tolist()],
                }
            )
        return records

    def _encode(self, rle: UncompressedRLE):
        if self.output_mode == "binary_mask":
            return rle_to_mask(rle)
        if self.output_mode == "coco_rle":
            return coco_encode_rle(rle)
        return rle

    # ------------------------------------------------------------------ stages

    def _generate_masks(self, image: np.ndarray) -> MaskData:
        orig_size = image.shape[:2]
        crop_boxes, layer_idxs = generate_crop_boxes(orig_size, self.crop_n_layers, self.crop_overlap_ratio)
        data = MaskData.cat(
            [self._process_crop(image, box, layer, orig_size) for box, layer in zip(crop_boxes, layer_idxs)]
        )
        if len(crop_boxes) > 1 and len(data):
            # Duplicates between crops: the mask from the smaller crop (higher score) wins.
            device = self.predictor.device
            scores = (1 / box_area(data.crop_boxes)).to(device)
            boxes = data.boxes.to(device).float()
            keep = batched_nms(boxes, scores, torch.zeros_like(boxes[:, 0]), iou_threshold=self.crop_nms_thresh)
            data = data.filter(keep.cpu())
        return data

    def _process_crop(
        self, image: np.ndarray, crop_box: List[int], crop_layer_idx: int, orig_size: Tuple[int, ...]
    ) -> MaskData:
        x0, y0, x1, y1 = crop_box
        cropped = image[y0:y1, x0:x1, :]
        cropped_size = cropped.shape[:2]
        control = self._control
        control.check()
        self.predictor.set_image(cropped)
        try:
            scale = np.array(cropped_size)[None, ::-1]  # (w, h)
            points_for_image = self.point_grids[crop_layer_idx] * scale
            parts = []
            for (points,) in batch_iterator(self.points_per_batch, points_for_image):
                control.check()
                parts.append(self._process_batch(points, cropped_size, crop_box, orig_size, normalize=True))
                control.batch_done()
        finally:
            self.predictor.reset_predictor()
        data = MaskData.cat(parts)
        if len(data):
            device = self.predictor.device
            boxes = data.boxes.to(device).float()
            keep = batched_nms(
                boxes, data.iou_preds.to(device), torch.zeros_like(boxes[:, 0]), iou_threshold=self.box_nms_thresh
            )
            data = data.filter(keep.cpu())
        return data.with_columns(
            boxes=uncrop_boxes_xyxy(data.boxes, crop_box), points=uncrop_points(data.points, crop_box)
        )

    def _process_batch(
        self,
        points: np.ndarray,
        im_size: Tuple[int, ...],
        crop_box: List[int],
        orig_size: Tuple[int, ...],
        normalize: bool = False,
    ) -> MaskData:
        """Decode one batch of grid points (crop pixels) and keep the good masks as RLEs."""
        device = self.predictor.device
        pts = torch.as_tensor(points, dtype=torch.float32, device=device)
        in_points = self.predictor._transforms.transform_coords(pts, normalize=normalize, orig_hw=im_size)
        parts = [
            self._filter_candidates(low_res, ious, cand_points, crop_box, orig_size, im_size)
            for low_res, ious, cand_points in self._candidates(pts, in_points)
        ]
        return MaskData.cat(parts)

    def _candidates(
        self, pts: torch.Tensor, in_points: torch.Tensor
    ) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield (low-res logits N x 256 x 256, predicted IoUs N, prompt points N x 2) of candidates."""
        labels = torch.ones(in_points.shape[0], 1, dtype=torch.int, device=in_points.device)
        low_res, ious = self.predictor._decode(in_points[:, None, :], labels, multimask_output=self.multimask_output)
        per_prompt = low_res.shape[1]
        cand_points = pts.repeat_interleave(per_prompt, dim=0)
        if not self.use_m2m:
            yield low_res.flatten(0, 1), ious.flatten(0, 1), cand_points
            return
        cand_in = in_points.repeat_interleave(per_prompt, dim=0)
        yield from self._refine(cand_in, torch.clamp(low_res.flatten(0, 1), -32.0, 32.0), cand_points)

    def _refine(
        self, in_points: torch.Tensor, low_res: torch.Tensor, cand_points: torch.Tensor
    ) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One mask-to-mask step: each candidate's point again, with its own low-res mask."""
        for p, mask_in, cp in batch_iterator(self.points_per_batch, in_points, low_res, cand_points):
            labels = torch.ones(p.shape[0], 1, dtype=torch.int, device=p.device)
            refined, ious = self.predictor._decode(p[:, None, :], labels, mask_input=mask_in[:, None],
                                                   multimask_output=False)
            yield refined[:, 0], ious[:, 0], cp

    def refine_with_m2m(self, points, point_labels, low_res_masks, points_per_batch):
        """Official helper: refined masks (N x 1 x H x W logits) and IoUs (N x 1)."""
        new_masks, new_ious = [], []
        for p, lab, mask_in in batch_iterator(points_per_batch, points, point_labels, low_res_masks):
            masks, ious, _ = self.predictor._predict(
                p[:, None, :], lab[:, None], mask_input=mask_in[:, None, :], multimask_output=False, return_logits=True
            )
            new_masks.append(masks)
            new_ious.append(ious)
        return torch.cat(new_masks, dim=0), torch.cat(new_ious, dim=0)

    def _filter_candidates(
        self,
        low_res: torch.Tensor,
        ious: torch.Tensor,
        points: torch.Tensor,
        crop_box: List[int],
        orig_size: Tuple[int, ...],
        im_size: Tuple[int, ...],
    ) -> MaskData:
        """Quality filters, binarisation, boxes, crop-edge filter and RLE, in memory-bounded slices.

        The predicted-IoU filter needs no pixels, so it runs first and only the candidates it
        keeps are upsampled to the crop's size (the reference upsamples every candidate; the
        surviving records are the same).
        """
        orig_h, orig_w = orig_size
        if self.pred_iou_thresh > 0.0:
            keep = ious > self.pred_iou_thresh
            low_res, ious, points = low_res[keep], ious[keep], points[keep]
        pixels = max(1, int(im_size[0]) * int(im_size[1]))
        step = max(1, min(_POSTPROCESS_PIXELS, self.max_logits_bytes // 4) // pixels)
        parts = []
        for start in range(0, low_res.shape[0], step):
            io, pt = ious[start : start + step], points[start : start + step]
            lg = self.predictor._transforms.postprocess_masks(low_res[start : start + step, None], im_size)[:, 0]
            stability = calculate_stability_score(lg, self.mask_threshold, self.stability_score_offset)
            if self.stability_score_thresh > 0.0:
                keep = stability >= self.stability_score_thresh
                lg, io, pt, stability = lg[keep], io[keep], pt[keep], stability[keep]
            masks = lg > self.mask_threshold
            del lg
            boxes = batched_mask_to_box(masks).to(torch.int64)
            keep = ~is_box_near_crop_edge(boxes, crop_box, [0, 0, orig_w, orig_h])
            if not torch.all(keep):
                masks, boxes, io, pt, stability = masks[keep], boxes[keep], io[keep], pt[keep], stability[keep]
            rles = masks_to_rle(masks, crop_box, (orig_h, orig_w))
            n = len(rles)
            parts.append(
                MaskData(
                    rles=rles,
                    boxes=boxes.cpu(),
                    iou_preds=io.float().cpu(),
                    points=pt.float().cpu(),
                    stability_score=stability.float().cpu(),
                    crop_boxes=torch.tensor([list(crop_box)], dtype=torch.int64).repeat(n, 1),
                )
            )
        return MaskData.cat(parts)

    # ------------------------------------------------------------------ optional cleanup

    @staticmethod
    def postprocess_small_regions(mask_data: MaskData, min_area: int, nms_thresh: float) -> MaskData:
        """Fill holes and drop islands smaller than ``min_area`` pixels in every mask, then
        suppress duplicates the cleanup created. Untouched masks win ties in the NMS (they
        needed no repair). Returns the new MaskData (boxes and RLEs of changed masks updated).
        """
        if len(mask_data) == 0:
            return mask_data
        rles = list(mask_data.rles)
        boxes = mask_data.boxes.clone()
        new_boxes, scores, changed_masks = [], [], {}
        for i, rle in enumerate(rles):
            mask = rle_to_mask(rle)
            mask, filled = remove_small_regions(mask, min_area, mode="holes")
            mask, dropped = remove_small_regions(mask, min_area, mode="islands")
            unchanged = not (filled or dropped)
            scores.append(float(unchanged))
            mask_t = torch.from_numpy(np.ascontiguousarray(mask))
            new_boxes.append(batched_mask_to_box(mask_t[None])[0].to(torch.int64))
            if not unchanged:
                changed_masks[i] = mask_t
        new_boxes_t = torch.stack(new_boxes)
        keep = batched_nms(
            new_boxes_t.float(), torch.as_tensor(scores), torch.zeros(len(rles), dtype=torch.int64), iou_threshold=nms_thresh
        )
        for i in keep.tolist():
            if i in changed_masks:
                rles[i] = masks_to_rle(changed_masks[i][None])[0]
                boxes[i] = new_boxes_t[i].to(boxes.dtype)
        return mask_data.with_columns(rles=rles, boxes=boxes).filter(keep)

