"""Turning whatever a user hands us into the H x W x 3 uint8 RGB array SAM 2 expects.

Conversion rules (applied to numpy arrays and PIL images alike):

* uint8 RGB: used as is.
* Grayscale (H x W, H x W x 1, PIL "L"/"1"): replicated to three channels.
* Alpha (RGBA, LA, palette with transparency): composited over white, the way the image
  looks on a light page, so transparent pixels don't carry arbitrary hidden colours.
* 16-bit (uint16 arrays, PIL "I;16"/"I"): scaled to 8 bits with ``round(v / 257)``, which
  maps 0..65535 onto 0..255 exactly; 32-bit integer PIL images are treated as 16-bit.
* Float arrays: values in [0, 1] are scaled by 255, others are taken as 0..255; both
  clipped and rounded. NaN or infinite values are refused.
* CMYK, YCbCr, LAB, HSV and other PIL modes: PIL's conversion to RGB.
* Bool arrays: False -> 0, True -> 255 (grayscale).
"""

from __future__ import annotations

import io
import os
from typing import Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sam2.media.file_kind import UNKNOWN, FileKind, sniff_file

ImageLike = Union[np.ndarray, Image.Image]


class ImageLoadError(ValueError):
    """The input could not be read as an image; the message says why."""


def _to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if values.dtype == np.uint16 or (np.issubdtype(values.dtype, np.integer) and values.max(initial=0) > 255):
        v = np.clip(values.astype(np.int64), 0, 65535)
        return ((v + 128) // 257).astype(np.uint8)
    if np.issubdtype(values.dtype, np.integer):
        return np.clip(values, 0, 255).astype(np.uint8)
    if np.issubdtype(values.dtype, np.floating):
        if not np.isfinite(values).all():
            raise ImageLoadError("image contains NaN or infinite values")
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0
        return np.clip(np.rint(values.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    raise ImageLoadError(f"unsupported image dtype {values.dtype}")


def _composite_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None] / 255.0
    out = rgb.astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        gray = _to_uint8(arr)
        return np.repeat(gray[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise ImageLoadError(
            f"expected an H x W, H x W x 3 (RGB) or H x W x 4 (RGBA) image array, got shape {arr.shape}"
        )
    arr = _to_uint8(arr)
    if arr.shape[2] == 2:  # gray + alpha
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    if arr.shape[2] == 4:
        return _composite_over_white(arr[..., :3], arr[..., 3])
    return np.ascontiguousarray(arr)


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return _array_to_rgb(np.asarray(img).astype(np.int64).clip(0, 65535).astype(np.uint16))
    if mode == "F":
        return _array_to_rgb(np.asarray(img, dtype=np.float32))
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        return _pil_to_rgb(img)
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        return _composite_over_white(rgba[..., :3], rgba[..., 3])
    if mode in ("L", "1"):
        return _array_to_rgb(np.asarray(img.convert("L"), dtype=np.uint8))
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def to_rgb_uint8(image: ImageLike) -> np.ndarray:
    """Convert a numpy array or PIL image to a contiguous H x W x 3 uint8 RGB array.

    See the module docstring for the rules. Raises ``ImageLoadError`` (a ``ValueError``)
    for anything that is not an image.
    """
    if isinstance(image, Image.Image):
        rgb = _pil_to_rgb(image)
    elif isinstance(image, np.ndarray):
        rgb = _array_to_rgb(image)
    else:
        raise ImageLoadError(f"expected a numpy array or PIL image, got {type(image).__name__}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageLoadError(f"image is empty (shape {rgb.shape})")
    return rgb


#: What ``load_image`` reads, for messages (PIL reads more, but these are what users have).
SUPPORTED_FORMATS = "PNG, JPEG, WebP, BMP, TIFF or GIF"


def _refusal(name: str, kind: FileKind) -> str:
    if kind.category == "image":
        return f"Could not read {name} as an image: it looks like {kind.description} but cannot be decoded " \
               f"(damaged, truncated, or a variant this app does not read). Please use a {SUPPORTED_FORMATS} file."
    what = f"it is {kind.description}" if kind.category != "unknown" else "it is not in a known picture format"
    return f"Could not read {name} as an image: {what}. Please use a {SUPPORTED_FORMATS} file."


def check_image_kind(source: Union[str, os.PathLike, bytes], name: Optional[str] = None) -> None:
    """Refuse, by name, a file whose content is plainly not a picture (SVG, PDF, text,
    video, ...), before any decoder sees it. ``name`` is used in the message (default:
    the file's base name), never the full path."""
    kind = sniff_file(source)
    if kind.category not in ("image", "unknown"):
        raise ImageLoadError(_refusal(name or _name_of(source), kind))


def _name_of(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source)) or "the file"
    return "the uploaded data"


def load_image(source: Union[str, os.PathLike, bytes, io.IOBase], name: Optional[str] = None) -> np.ndarray:
    """Read an image file (path, bytes or file object) as H x W x 3 uint8 RGB.

    EXIF orientation is applied, so photos from phones come out upright, as viewers show them.
    Files that are not pictures (SVG, PDF, text, video...) are refused by their kind; error
    messages name the file by ``name`` (default: its base name), not by its full path.
    """
    name = name or _name_of(source)
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise ImageLoadError(f"{name} is empty (0 bytes)")
            check_image_kind(bytes(source), name)
            source = io.BytesIO(source)
        elif isinstance(source, (str, os.PathLike)):
            if not os.path.exists(source):
                raise ImageLoadError(f"no such image file: {source}")
            if os.path.getsize(source) == 0:
                raise ImageLoadError(f"{name} is empty (0 bytes)")
            check_image_kind(source, name)
        with Image.open(source) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return to_rgb_uint8(img)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{name} is too large to decode safely: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        kind = sniff_file(source.getvalue()) if isinstance(source, io.BytesIO) else (
            sniff_file(source) if isinstance(source, (str, os.PathLike)) else UNKNOWN)
        raise ImageLoadError(_refusal(name, kind)) from exc
