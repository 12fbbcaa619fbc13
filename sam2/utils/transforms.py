"""Image and coordinate transforms between the user's image space and the model's 1024 space."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from sam2.utils.mask_cleanup import clean_mask_logits

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SAM2Transforms:
    """Preprocessing of images and prompts, postprocessing of masks.

    Images: uint8 RGB -> float in [0, 1] -> bilinear antialiased resize to a square of
    ``resolution`` (the same operation as torchvision's tensor ``Resize``) -> ImageNet
    normalisation. The aspect ratio is not kept: that is how SAM 2 was trained.
    """

    def __init__(self, resolution: int, mask_threshold: float = 0.0, max_hole_area: float = 0.0,
                 max_sprinkle_area: float = 0.0) -> None:
        self.resolution = resolution
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def to_model_input(self, image: np.ndarray, device: Optional[torch.device] = None) -> torch.Tensor:
        """H x W x 3 uint8 -> 3 x R x R normalised float tensor (resized on ``device``)."""
        image = np.ascontiguousarray(image)
        if not image.flags.writeable:  # torch cannot wrap read-only memory without a warning
            image = image.copy()
        x = torch.from_numpy(image)
        if device is not None:
            x = x.to(device)
        x = x.permute(2, 0, 1).float().div_(255.0)
        x = F.interpolate(x[None], size=(self.resolution, self.resolution), mode="bilinear",
                          align_corners=False, antialias=True)[0]
        return (x - self.mean.to(x.device)) / self.std.to(x.device)

    __call__ = to_model_input

    def forward_batch(self, images: Sequence[np.ndarray], device: Optional[torch.device] = None) -> torch.Tensor:
        return torch.stack([self.to_model_input(img, device) for img in images], dim=0)

    def transform_coords(self, coords: torch.Tensor, normalize: bool = False,
                         orig_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """(..., 2) x/y coordinates -> model-space pixels.

        With ``normalize`` the input is in pixels of an image of size ``orig_hw``; without,
        it is already normalised to [0, 1].
        """
        if normalize:
            if orig_hw is None:
                raise ValueError("orig_hw is required to normalise pixel coordinates")
            h, w = orig_hw
            coords = coords.clone()
            coords[..., 0] = coords[..., 0] / w
            coords[..., 1] = coords[..., 1] / h
        return coords * self.resolution

    def transform_boxes(self, boxes: torch.Tensor, normalize: bool = False,
                        orig_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """N x 4 XYXY boxes -> N x 2 x 2 corner points in model space."""
        return self.transform_coords(boxes.reshape(-1, 2, 2), normalize, orig_hw)

    def postprocess_masks(self, masks: torch.Tensor, orig_hw: Tuple[int, int]) -> torch.Tensor:
        """Low-res logits (B x C x 256 x 256) -> logits at the original image size.

        Small holes / sprinkles (``max_hole_area`` / ``max_sprinkle_area`` pixels of the
        low-res mask) are removed first, when asked for.
        """
        masks = masks.float()
        if self.max_hole_area > 0 or self.max_sprinkle_area > 0:
            masks = clean_mask_logits(masks, self.mask_threshold, self.max_hole_area, self.max_sprinkle_area)
        return resize_mask_logits(masks, tuple(int(v) for v in orig_hw))


# OpenCV's resize refuses sizes beyond this (its coordinates are 16-bit in places)
_CV2_MAX_SIDE = 32767


def resize_mask_logits(masks: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (half-pixel centres, i.e. ``align_corners=False``) of B x C x h x w logits.

    On the CPU, OpenCV's resize computes the same interpolation about 6x faster than
    PyTorch's (0.6 ms instead of 4 ms for three 256x256 masks to 1800x1200, the largest
    cost of a click after the decoder); its float32 weights differ from PyTorch's by a few
    ulps, which moves a logit by ~1e-5 relative. Elsewhere PyTorch does it on the device.
    """
    h, w = size
    if masks.device.type != "cpu" or max(h, w) > _CV2_MAX_SIDE or masks.numel() == 0:
        return F.interpolate(masks, size, mode="bilinear", align_corners=False)
    import cv2

    src = masks.detach().reshape(-1, *masks.shape[-2:]).contiguous().numpy()
    out = np.empty((src.shape[0], h, w), dtype=np.float32)
    for i, plane in enumerate(src):
        cv2.resize(plane, (w, h), dst=out[i], interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(out).view(*masks.shape[:-2], h, w)
