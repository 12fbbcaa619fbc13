"""SAM2ImagePredictor: encode an image once, then answer any number of prompts quickly.

Same surface as the official predictor: ``set_image`` / ``set_image_batch`` run the image
encoder; ``predict`` / ``predict_batch`` run only the prompt encoder and mask decoder.
Prompts are validated up front, so a wrong shape is a clear ``ValueError`` rather than a
broadcasting error deep inside the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL.Image import Image

from sam2.assembly import build_image_model_hf
from sam2.media.images import to_rgb_uint8
from sam2.modeling.sam2_base import SAM2Base
from sam2.modeling.mask_decoder import UpscalingSkips
from sam2.modeling.transformer import ProjectedImage
from sam2.utils.transforms import SAM2Transforms

VALID_LABELS = (-1, 0, 1, 2, 3)


@dataclass
class ImageFeatures:
    """The encoder's output for the current image(s), ready for the decoder."""

    image_embed: torch.Tensor  # B x 256 x 64 x 64 (with no_mem_embed added)
    high_res_feats: List[torch.Tensor]  # [B x 32 x 256 x 256, B x 64 x 128 x 128]

    def __getitem__(self, key: str):  # old code reads predictor._features["image_embed"]
        return getattr(self, key)


@dataclass(frozen=True)
class DecoderImageCache:
    """The mask decoder's per-image work that no prompt changes, done once per image."""

    projected: ProjectedImage  # the first block's image projections (prompts without mask input)
    skips: UpscalingSkips  # the high-res features in the upscaling's layout (every prompt)


@dataclass
class PreparedPrompts:
    """Prompts converted to model-space tensors (B = number of objects)."""

    point_coords: Optional[torch.Tensor]  # B x N x 2
    point_labels: Optional[torch.Tensor]  # B x N
    boxes: Optional[torch.Tensor]  # B x 2 x 2
    mask_input: Optional[torch.Tensor]  # B x 1 x 256 x 256


class SAM2ImagePredictor:
    def __init__(self, sam_model: SAM2Base, mask_threshold: float = 0.0, max_hole_area: float = 0.0,
                 max_sprinkle_area: float = 0.0, **kwargs) -> None:
        self.model = sam_model
        self.mask_threshold = mask_threshold
        self._transforms = SAM2Transforms(
            resolution=sam_model.image_size, mask_threshold=mask_threshold,
            max_hole_area=max_hole_area, max_sprinkle_area=max_sprinkle_area,
        )
        stride0 = sam_model.image_size // 4
        self._bb_feat_sizes = [(stride0, stride0), (stride0 // 2, stride0 // 2), (stride0 // 4, stride0 // 4)]
        self.reset_predictor()

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2ImagePredictor":
        """Load an official model from the Hugging Face Hub (or the local Hub cache)."""
        return cls(build_image_model_hf(model_id, **kwargs), **kwargs)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset_predictor(self) -> None:
        """Forget the current image(s) and their features."""
        self._is_image_set = False
        self._features: Optional[ImageFeatures] = None
        self._orig_hw: Optional[List[Tuple[int, int]]] = None
        self._is_batch = False
        self._image_pe: Optional[torch.Tensor] = None
        self._decoder_cache: Dict[int, DecoderImageCache] = {}  # by image index, filled on first use

    # ------------------------------------------------------------------ encoding
    @torch.no_grad()
    def _encode(self, images: Sequence[np.ndarray]) -> None:
        batch = self._transforms.forward_batch(images, device=self.device)
        backbone_out = self.model.forward_image(batch)
        _, vision_feats, _, _ = self.model._prepare_backbone_features(backbone_out)
        if self.model.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + self.model.no_mem_embed
        n = batch.shape[0]
        maps = [
            feat.permute(1, 2, 0).reshape(n, -1, *size) for feat, size in zip(vision_feats, self._bb_feat_sizes)
        ]
        self._features = ImageFeatures(image_embed=maps[-1], high_res_feats=maps[:-1])
        self._image_pe = self.model.sam_prompt_encoder.get_dense_pe()
        self._decoder_cache = {}
        self._is_image_set = True

    def set_image(self, image: Union[np.ndarray, Image]) -> None:
        """Compute the embedding of one image (H x W x 3 uint8 RGB array or PIL image).

        Grayscale, RGBA, 16-bit and other modes are converted by the rules of
        ``sam2.media.images``.
        """
        self.reset_predictor()
        rgb = to_rgb_uint8(image)
        self._orig_hw = [tuple(rgb.shape[:2])]
        self._encode([rgb])
        self._cached_for_decoder(-1)  # now rather than on the first click

    def set_image_batch(self, image_list: List[Union[np.ndarray, Image]]) -> None:
        """Compute the embeddings of several images at once, for ``predict_batch``."""
        self.reset_predictor()
        if not isinstance(image_list, (list, tuple)) or not image_list:
            raise ValueError("set_image_batch expects a non-empty list of images")
        rgbs = [to_rgb_uint8(img) for img in image_list]
        self._orig_hw = [tuple(r.shape[:2]) for r in rgbs]
        self._encode(rgbs)
        self._is_batch = True

    def get_image_embedding(self) -> torch.Tensor:
        """The 1 x 256 x 64 x 64 embedding of the current image."""
        self._require_image()
        return self._features.image_embed

    def _require_image(self) -> None:
        if not self._is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")

    # ------------------------------------------------------------------ prompts
    def _prep_prompts(self, point_coords, point_labels, box, mask_logits, normalize_coords,
                      img_idx: int = -1) -> PreparedPrompts:
        """Validate prompts and move them to model space. Raises ``ValueError`` on bad input."""
        orig_hw = self._orig_hw[img_idx]
        coords = labels = boxes = mask = None
        if point_coords is not None or point_labels is not None:
            if point_coords is None or point_labels is None:
                raise ValueError("point_coords and point_labels must be given together")
            coords = torch.as_tensor(np.asarray(point_coords, dtype=np.float32), device=self.device)
            labels = torch.as_tensor(np.asarray(point_labels), device=self.device)
            if coords.ndim == 2:
                coords, labels = coords[None], labels[None] if labels.ndim == 1 else labels
            if coords.ndim != 3 or coords.shape[-1] != 2:
                raise ValueError(f"point_coords must have shape N x 2 (or B x N x 2), got {tuple(coords.shape)}")
            if labels.shape != coords.shape[:2]:
                raise ValueError(
                    f"point_labels must have one label per point: {tuple(coords.shape[:2])} expected, "
                    f"got {tuple(labels.shape)}"
                )
            if not torch.isfinite(coords).all():
                raise ValueError("point_coords contains NaN or infinite values")
            bad = set(labels.unique().tolist()) - set(VALID_LABELS)
            if bad:
                raise ValueError(f"point_labels must be 1 (foreground) or 0 (background); got {sorted(bad)}")
            labels = labels.to(torch.int32)
            coords = self._transforms.transform_coords(coords, normalize=normalize_coords, orig_hw=orig_hw)
        if box is not None:
            b = torch.as_tensor(np.asarray(box, dtype=np.float32), device=self.device)
            if b.ndim == 1:
                b = b[None]
            if b.ndim != 2 or b.shape[-1] != 4:
                raise ValueError(f"box must have shape 4 (or B x 4) as x0, y0, x1, y1; got {tuple(b.shape)}")
            if not torch.isfinite(b).all():
                raise ValueError("box contains NaN or infinite values")
            if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
                raise ValueError("box must be x0, y0, x1, y1 with x1 >= x0 and y1 >= y0")
            boxes = self._transforms.transform_boxes(b, normalize=normalize_coords, orig_hw=orig_hw)
        if mask_logits is not None:
            mask = torch.as_tensor(np.asarray(mask_logits, dtype=np.float32), device=self.device)
            if mask.ndim == 2:
                mask = mask[None]
            if mask.ndim == 3:
                mask = mask[None]
            expected = self.model.sam_prompt_encoder.mask_input_size
            if mask.ndim != 4 or mask.shape[1] != 1 or tuple(mask.shape[-2:]) != tuple(expected):
                raise ValueError(
                    f"mask_input must be the 1 x {expected[0]} x {expected[1]} low-res logits of a previous "
                    f"prediction (or B x 1 x {expected[0]} x {expected[1]}); got {tuple(mask.shape)}"
                )
        # Objects in a batch: every prompt type present must agree on their number (or be 1).
        sizes = {t.shape[0] for t in (coords, boxes, mask) if t is not None}
        if len(sizes - {1}) > 1:
            raise ValueError(f"prompts disagree on the number of objects: {sorted(sizes)}")
        n = max(sizes) if sizes else 1
        if coords is not None and coords.shape[0] != n:
            coords, labels = coords.expand(n, -1, -1), labels.expand(n, -1)
        if boxes is not None and boxes.shape[0] != n:
            boxes = boxes.expand(n, -1, -1)
        if mask is not None and mask.shape[0] != n:
            mask = mask.expand(n, -1, -1, -1)
        return PreparedPrompts(coords, labels, boxes, mask)

    # ------------------------------------------------------------------ decoding
    def predict(
        self,
        point_coords: Optional[np.ndarray] = None,
        point_labels: Optional[np.ndarray] = None,
        box: Optional[np.ndarray] = None,
        mask_input: Optional[np.ndarray] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for prompts on the current image.

        Returns ``(masks, scores, low_res_logits)``: masks C x H x W bool at the image's
        size (float32 logits with ``return_logits``), scores C float32 predicted IoUs,
        low-res logits C x 256 x 256 float32 (feed one back as ``mask_input`` to refine).
        With B boxes (B x 4) every output gains a leading B axis.
        """
        self._require_image()
        p = self._prep_prompts(point_coords, point_labels, box, mask_input, normalize_coords)
        masks, ious, low_res = self._predict(p.point_coords, p.point_labels, p.boxes, p.mask_input,
                                             multimask_output, return_logits=return_logits)
        return self._to_numpy(masks, ious, low_res)

    def predict_batch(
        self,
        point_coords_batch: Optional[List[np.ndarray]] = None,
        point_labels_batch: Optional[List[np.ndarray]] = None,
        box_batch: Optional[List[np.ndarray]] = None,
        mask_input_batch: Optional[List[np.ndarray]] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Tuple[List[np.ndarray], List[np.ndarray], List[np.ndarray]]:
        """``predict`` for each image of ``set_image_batch``; returns lists, one entry per image."""
        self._require_image()
        if not self._is_batch:
            raise RuntimeError("predict_batch needs images set with .set_image_batch(...)")
        num = len(self._orig_hw)
        for name, seq in (("point_coords_batch", point_coords_batch), ("point_labels_batch", point_labels_batch),
                          ("box_batch", box_batch), ("mask_input_batch", mask_input_batch)):
            if seq is not None and len(seq) != num:
                raise ValueError(f"{name} has {len(seq)} entries for {num} images")
        out_masks, out_ious, out_low = [], [], []
        for i in range(num):
            pick = (lambda seq: seq[i] if seq is not None else None)
            p = self._prep_prompts(pick(point_coords_batch), pick(point_labels_batch), pick(box_batch),
                                   pick(mask_input_batch), normalize_coords, img_idx=i)
            masks, ious, low_res = self._predict(p.point_coords, p.point_labels, p.boxes, p.mask_input,
                                                 multimask_output, return_logits=return_logits, img_idx=i)
            m, s, l = self._to_numpy(masks, ious, low_res)
            out_masks.append(m)
            out_ious.append(s)
            out_low.append(l)
        return out_masks, out_ious, out_low

    @torch.no_grad()
    def _cached_for_decoder(self, img_idx: int) -> DecoderImageCache:
        index = img_idx % len(self._orig_hw)
        if index not in self._decoder_cache:
            decoder = self.model.sam_mask_decoder
            no_mask = self.model.sam_prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            embed = self._features.image_embed[index].unsqueeze(0)
            h, w = embed.shape[-2:]
            self._decoder_cache[index] = DecoderImageCache(
                projected=decoder.project_image(embed, self._image_pe, no_mask),
                skips=decoder.prepare_skips([level[index].unsqueeze(0) for level in self._features.high_res_feats],
                                            h, w),
            )
        return self._decoder_cache[index]

    @staticmethod
    def _to_numpy(masks: torch.Tensor, ious: torch.Tensor, low_res: torch.Tensor):
        masks_np = masks.squeeze(0).cpu().numpy()
        if masks_np.dtype != np.bool_:
            masks_np = masks_np.astype(np.float32)
        return masks_np, ious.squeeze(0).float().cpu().numpy(), low_res.squeeze(0).float().cpu().numpy()

    @torch.no_grad()
    def _predict(
        self,
        point_coords: Optional[torch.Tensor],
        point_labels: Optional[torch.Tensor],
        boxes: Optional[torch.Tensor] = None,
        mask_input: Optional[torch.Tensor] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        img_idx: int = -1,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder pass on model-space tensors (B objects): masks B x C x H x W, ious B x C,
        low-res logits B x C x 256 x 256 (clamped to +/-32)."""
        low_res, ious = self._decode(point_coords, point_labels, boxes, mask_input, multimask_output, img_idx)
        masks = self._transforms.postprocess_masks(low_res, self._orig_hw[img_idx])
        low_res = torch.clamp(low_res, -32.0, 32.0)
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, ious, low_res

    @torch.no_grad()
    def _decode(
        self,
        point_coords: Optional[torch.Tensor],
        point_labels: Optional[torch.Tensor],
        boxes: Optional[torch.Tensor] = None,
        mask_input: Optional[torch.Tensor] = None,
        multimask_output: bool = True,
        img_idx: int = -1,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Prompt encoder + mask decoder only: (low-res logits B x C x 256 x 256, not clamped;
        ious B x C). Full-resolution masks are left to the caller (``_predict``, or the
        automatic mask generator, which upsamples only the candidates it keeps)."""
        self._require_image()
        points = (point_coords, point_labels) if point_coords is not None else None
        if boxes is not None:
            corners = boxes.reshape(-1, 2, 2)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int32, device=corners.device).repeat(corners.shape[0], 1)
            if points is not None:  # the box corners go first, as the model was trained
                points = (torch.cat([corners, points[0]], dim=1), torch.cat([corner_labels, points[1]], dim=1))
            else:
                points = (corners, corner_labels)
        sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
        several_objects = points is not None and points[0].shape[0] > 1
        cache = self._cached_for_decoder(img_idx)
        low_res, ious, _, _ = self.model.sam_mask_decoder(
            image_embeddings=self._features.image_embed[img_idx].unsqueeze(0),
            image_pe=self._image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=several_objects,
            projected=cache.projected if mask_input is None else None,
            skips=cache.skips,
        )
        return low_res.float(), ious
