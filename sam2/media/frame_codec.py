"""How a video frame is kept compressed: an image file's own bytes, or our JPEG re-encoding.

Kept apart from decoding and storage so that both can use it without importing each other.
"""

from __future__ import annotations

import io
from typing import NamedTuple, Union

import numpy as np
from PIL import Image

from sam2.media.images import to_rgb_uint8

DEFAULT_MAX_RAW_BYTES = 1 << 30  # above this, decoded video frames are kept JPEG-compressed
JPEG_QUALITY = 95


class EncodedFrame(NamedTuple):
    """A frame kept compressed: ``codec`` is ``"file"`` (an image file's own bytes, decoded
    with PIL exactly as the file would be) or ``"jpeg"`` (our quality-95 re-encoding)."""

    data: bytes
    codec: str

    def decode(self) -> np.ndarray:
        if self.codec == "jpeg":
            import cv2

            bgr = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
            return np.ascontiguousarray(bgr[..., ::-1])
        # like the reference's frame loader: no EXIF rotation, PIL's decoder
        with Image.open(io.BytesIO(self.data)) as img:
            img.load()
            return to_rgb_uint8(img)


def encode_jpeg(frame: np.ndarray) -> EncodedFrame:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise VideoLoadError("could not compress a video frame")
    return EncodedFrame(buf.tobytes(), "jpeg")


StoredFrame = Union[np.ndarray, EncodedFrame]


class VideoLoadError(ValueError):
    """The video could not be read; the message says which input and why."""



__all__ = ["EncodedFrame", "StoredFrame", "VideoLoadError", "encode_jpeg", "DEFAULT_MAX_RAW_BYTES", "JPEG_QUALITY"]
