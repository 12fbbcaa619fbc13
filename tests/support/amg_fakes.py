"""A synthetic stand-in for SAM2ImagePredictor, to test the automatic mask generator's
pipeline (grids, crops, filters, NMS, encodings) without a network.

The "image" is a painted label map: every object has its own colour. For a point prompt the
fake decoder proposes three candidate masks: the object under the point, a disc around the
point, and the object grown by a few pixels. Logits are blurred indicators, so candidates
have different stability scores; predicted IoUs are a function of the point with many ties,
which exercises the tie-breaking of the NMS. Everything depends only on the pixels and the
prompt, never on the batch, so any batching gives the same masks.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def painted_scene(h: int = 120, w: int = 160) -> np.ndarray:
    """H x W x 3 uint8 with a few flat-coloured objects (some touch the border, one has a hole)."""
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:] = (10, 10, 10)
    cv2.rectangle(img, (8, 10), (60, 50), (200, 30, 30), thickness=-1)
    cv2.rectangle(img, (22, 22), (34, 34), (10, 10, 10), thickness=-1)  # a hole in it
    cv2.circle(img, (110, 40), 22, (30, 200, 30), thickness=-1)
    cv2.ellipse(img, (80, 95), (40, 14), 0, 0, 360, (30, 30, 200), thickness=-1)
    cv2.rectangle(img, (135, 70), (w - 1, h - 1), (200, 200, 30), thickness=-1)  # touches two borders
    cv2.rectangle(img, (0, 70), (20, 110), (200, 30, 200), thickness=-1)  # touches the left border
    img[60:63, 100:103] = (90, 90, 90)  # a speck
    for k in range(8):  # a row of small tiles, each its own object
        x = 30 + 12 * k
        img[112:118, x : x + 4 + k % 3] = (40 + 20 * k, 120, 250 - 15 * k)
    return img


class FakeTransforms:
    resolution = 1024

    def transform_coords(self, coords: torch.Tensor, normalize: bool = False,
                         orig_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        if normalize:
            h, w = orig_hw
            coords = coords.clone()
            coords[..., 0] = coords[..., 0] / w
            coords[..., 1] = coords[..., 1] / h
        return coords * self.resolution

    @staticmethod
    def postprocess_masks(masks: torch.Tensor, orig_hw: Tuple[int, int]) -> torch.Tensor:
        # the fake decoder's "low-res" logits are already at the image's size
        assert tuple(masks.shape[-2:]) == tuple(orig_hw)
        return masks


class FakePredictor:
    """Duck-typed SAM2ImagePredictor (the private surface the generator uses)."""

    def __init__(self, model=None, max_hole_area: float = 0.0, max_sprinkle_area: float = 0.0, **kwargs):
        self.model = model
        self.mask_threshold = 0.0
        self._transforms = FakeTransforms()
        self.device = torch.device("cpu")
        self.set_image_calls: List[Tuple[int, int]] = []
        self.decoder_batches: List[int] = []
        self.mask_inputs_seen = 0
        self.reset_predictor()

    def reset_predictor(self) -> None:
        self._image = None
        self._orig_hw = None

    def set_image(self, image: np.ndarray) -> None:
        self._image = np.ascontiguousarray(image)
        self._orig_hw = [tuple(image.shape[:2])]
        self.set_image_calls.append(tuple(image.shape[:2]))

    @staticmethod
    def _soft(region: np.ndarray, passes: int, gain: float) -> np.ndarray:
        """Logits of a blurred indicator. The blur is repeated [1, 2, 1] / 4 averaging in
        float64, which is exact (dyadic fractions), so the fake gives the same numbers
        with any numpy/OpenCV version."""
        v = region.astype(np.float64)
        for _ in range(passes):
            p = np.pad(v, 1, mode="edge")
            v = (p[:-2, 1:-1] + 2 * p[1:-1, 1:-1] + p[2:, 1:-1]) / 4
            p = np.pad(v, 1, mode="edge")
            v = (p[1:-1, :-2] + 2 * p[1:-1, 1:-1] + p[1:-1, 2:]) / 4
        return ((v - 0.5) * gain).astype(np.float32)

    def _candidates(self, x: float, y: float) -> Tuple[np.ndarray, np.ndarray]:
        img = self._image
        h, w = img.shape[:2]
        xi, yi = min(int(x), w - 1), min(int(y), h - 1)
        colour = img[yi, xi]
        obj = np.all(img == colour, axis=-1)
        # keep only the connected piece under the point
        _, labels = cv2.connectedComponents(obj.astype(np.uint8), connectivity=4)
        obj = labels == labels[yi, xi]
        yy, xx = np.mgrid[0:h, 0:w]
        radius = 6 + (int(x) * 3 + int(y) * 5) % 15
        disc = (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
        grown = cv2.dilate(obj.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        logits = np.stack([
            self._soft(obj, 0, 12.0),
            self._soft(disc, 4, 10.0),
            self._soft(grown, 12, 6.0),
        ])
        base = ((int(x) * 7 + int(y) * 13) % 20) / 20.0  # few distinct values: ties on purpose
        ious = np.array([0.5 + base / 2, 0.4 + base / 2, 0.45 + base / 2], dtype=np.float32)
        return logits.astype(np.float32), ious

    def _decode(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True, img_idx=-1):
        """Logits at the image's size (standing in for the decoder's low-res ones) and IoUs."""
        if self._image is None:
            raise RuntimeError("set_image first")
        h, w = self._orig_hw[-1]
        pix = point_coords[:, 0, :].double() / 1024.0 * torch.tensor([w, h], dtype=torch.float64)
        self.decoder_batches.append(point_coords.shape[0])
        if mask_input is not None and tuple(mask_input.shape[-2:]) != (256, 256):
            # what the real pipeline feeds back is 256 x 256 (the fake's logits never reach +/-32)
            mask_input = F.interpolate(mask_input.float(), (256, 256), mode="bilinear", align_corners=False)
        all_logits, all_ious = [], []
        for i, (x, y) in enumerate(pix.tolist()):
            logits, ious = self._candidates(x, y)
            if mask_input is not None:
                self.mask_inputs_seen += 1
                prior = F.interpolate(mask_input[i : i + 1].float(), (h, w), mode="bilinear", align_corners=False)[0, 0]
                logits = (prior.numpy() * 0.8 + 1.0)[None]
                ious = np.array([float(torch.sigmoid(mask_input[i].float().mean()))], dtype=np.float32)
            elif not multimask_output:
                logits, ious = logits[:1], ious[:1]
            all_logits.append(torch.from_numpy(logits))
            all_ious.append(torch.from_numpy(ious))
        return torch.stack(all_logits), torch.stack(all_ious)

    def _predict(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True,
                 return_logits=False, img_idx=-1):
        masks, ious = self._decode(point_coords, point_labels, boxes, mask_input, multimask_output, img_idx)
        low_res = torch.clamp(F.interpolate(masks, (256, 256), mode="bilinear", align_corners=False), -32.0, 32.0)
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, ious, low_res
