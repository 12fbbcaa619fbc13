"""Image and coordinate transforms between the user's image space and the model's 1024 space."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

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
            from sam2.utils.mask_cleanup import clean_mask_logits

            masks = clean_mask_logits(masks, self.mask_threshold, self.max_hole_area, self.max_sprinkle_area)
        return F.interpolate(masks, tuple(int(v) for v in orig_hw), mode="bilinear", align_corners=False)
