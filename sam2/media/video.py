"""Video input for tracking: decode once, keep frames compact, build model inputs on demand.

A video can be given as
* a video file (``.mp4``, ``.mov``, ``.webm``, ``.mkv``, ``.avi``, ``.m4v``) or its bytes,
  decoded with the ffmpeg binary that ``imageio-ffmpeg`` ships;
* a folder of JPEG/PNG frames, ordered by the number in their file names (``00012.jpg``)
  like the reference, falling back to natural order for other names;
* a list of RGB frames (numpy arrays or PIL images) or an N x H x W x 3 array.

Frames are kept compactly, never as the reference's float32 1024x1024 copy of every frame
(12 MB each):

* frames of a folder are kept as their files' bytes and decoded when needed (the same
  pixels as decoding the file, at a tenth of the memory);
* frames decoded from a video file are kept as uint8 RGB at the original resolution while
  the whole clip stays under ``max_raw_bytes`` (1 GiB by default: 30 s of 720p at 30 fps);
  a longer clip is kept JPEG-compressed at quality 95 instead (visually lossless, about
  15x smaller), so a one-minute 720p clip needs a few hundred MB;
* frames given as arrays are kept as given.

The model input of a frame is computed when asked for, with the reference's rule for JPEG
folders — PIL bicubic ``resize((S, S))``, ``/ 255`` and ImageNet mean/std — for every kind
of input, and a few recent results (and decoded frames) are kept in small LRU caches.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import (Callable, Generic, Hashable, Iterator, List, NamedTuple, Optional, Sequence, Tuple,
                    TypeVar, Union)

import numpy as np
import torch
from PIL import Image

from sam2.media.images import ImageLoadError, load_image, to_rgb_uint8

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VideoSource = Union[str, os.PathLike, bytes, np.ndarray, Sequence]

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A tiny thread-safe least-recently-used cache with a fixed number of entries."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("cache capacity must be >= 0")
        self.capacity = capacity
        self._items: "OrderedDict[K, V]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> Optional[V]:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def preprocess_frame(
    frame: np.ndarray,
    image_size: int = 1024,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """H x W x 3 uint8 RGB -> 3 x S x S float32 model input (the reference's JPEG-folder rule).

    PIL bicubic resize to S x S on the uint8 image, then ``/ 255`` in float64 rounded to
    float32, then ``(x - mean) / std`` in float32. After the resize every output value is a
    function of one uint8 and its channel, so the arithmetic is done once per (channel,
    level) in ``_level_table`` and the frame is a table lookup: bit-identical to the
    element-wise form and a third of its time (a 1024 px frame: 11 -> 4 ms after the resize).
    """
    resized = np.asarray(Image.fromarray(frame).resize((image_size, image_size), Image.BICUBIC))
    table = _level_table(tuple(float(m) for m in mean), tuple(float(s) for s in std))
    out = np.empty((3, image_size, image_size), dtype=np.float32)
    for c in range(3):
        np.take(table[c], resized[..., c], out=out[c])
    return torch.from_numpy(out)


@lru_cache(maxsize=8)
def _level_table(mean: Tuple[float, ...], std: Tuple[float, ...]) -> np.ndarray:
    """3 x 256 float32: the model input value of each uint8 level in each channel, computed
    with the same operations (and roundings) as the reference applies per pixel."""
    levels = torch.from_numpy(np.arange(256) / 255.0).float()[None, :]
    mean_t = torch.tensor(mean, dtype=torch.float32)[:, None]
    std_t = torch.tensor(std, dtype=torch.float32)[:, None]
    return ((levels - mean_t) / std_t).numpy()


def _frame_sort_key(name: str) -> Tuple:
    stem = os.path.splitext(name)[0]
    if stem.lstrip("-").isdigit():
        return (0, int(stem), name)
    parts = re.split(r"(\d+)", stem)
    return (1, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts), name)


def list_frame_files(folder: str) -> List[str]:
    """JPEG/PNG files of a frame folder, ordered by frame number (then naturally)."""
    names = [n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in FRAME_EXTENSIONS]
    names.sort(key=_frame_sort_key)
    return [os.path.join(folder, n) for n in names]


def _read_frame_file(path: str) -> np.ndarray:
    return _read_frame_file_kept(path)[0]


def _read_frame_file_kept(path: str) -> Tuple[np.ndarray, EncodedFrame]:
    """Decode a frame file (checking it) and keep its bytes as the compact stored form."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        return EncodedFrame(data, "file").decode(), EncodedFrame(data, "file")
    except (OSError, ImageLoadError, Image.DecompressionBombError, SyntaxError) as exc:
        raise VideoLoadError(f"cannot read video frame {path}: {exc}") from exc


class VideoProbe(NamedTuple):
    """What a video file's header says: picture size, frame rate and duration (0.0 = unknown)."""

    width: int
    height: int
    fps: float
    seconds: float


def _ffmpeg_error(path: str, exc: BaseException) -> VideoLoadError:
    detail = str(exc).strip().splitlines()
    hint = detail[-1] if detail else type(exc).__name__
    err = VideoLoadError(f"cannot decode video file {path}: {hint}")
    err.__cause__ = exc  # callers that explain ffmpeg's reasons read it
    return err


def probe_video(path: str) -> VideoProbe:
    """Read a video file's header with ffmpeg (no frame is decoded). ``VideoLoadError`` if it
    has no readable video stream; the ffmpeg exception is its ``__cause__``."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(gen)
    except StopIteration:
        raise VideoLoadError(f"video file {path} contains no frames") from None
    except Exception as exc:  # noqa: BLE001 - ffmpeg's reasons vary; kept as the cause
        raise _ffmpeg_error(path, exc) from exc
    finally:
        gen.close()
    w, h = (int(v) for v in meta.get("size", (0, 0)))
    if w <= 0 or h <= 0:
        raise VideoLoadError(f"video file {path} has no picture size")
    fps = float(meta.get("fps") or 0.0)
    seconds = float(meta.get("duration") or 0.0)
    return VideoProbe(w, h, fps if math.isfinite(fps) else 0.0, seconds if math.isfinite(seconds) else 0.0)


def fit_within(width: int, height: int, max_short_side: Optional[int] = None,
               max_long_side: Optional[int] = None) -> Tuple[int, int]:
    """(w, h) scaled down to fit both side limits (even sides), or unchanged when it fits."""
    short, long = min(width, height), max(width, height)
    scale = min(1.0, (max_short_side or short) / short, (max_long_side or long) / long)
    if scale >= 1.0:
        return width, height
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def constant_rate_params(read_fps: float, filters: Sequence[str] = ()) -> List[str]:
    """ffmpeg output options that read a file at the constant rate ``read_fps`` (then
    ``filters``), passing through every frame the filters give: two reads with the same
    ``read_fps`` number the frames the same way, whatever the file's timestamps."""
    return ["-vf", ",".join([f"fps={read_fps:.6f}", *filters]), "-fps_mode", "passthrough"]


def iter_video_frames(path: str, read_fps: Optional[float] = None, trim_s: Optional[float] = None,
                      filters: Sequence[str] = (), max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """The frames of a video file (H x W x 3 uint8 RGB), decoded as they are consumed.

    Without options, every frame as stored; with ``read_fps``, read at that constant rate
    (``constant_rate_params``) then through the ffmpeg ``filters``; ``trim_s``: only the
    first seconds; ``max_frames``: at most that many. Raises ``VideoLoadError`` (the ffmpeg
    exception as its ``__cause__``), also for an error after some frames were given.
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise VideoLoadError("reading video files needs the `imageio-ffmpeg` package") from exc
    output_params = constant_rate_params(read_fps, filters) if read_fps else (["-vf", ",".join(filters)] if filters else None)
    input_params = ["-t", f"{trim_s:.3f}"] if trim_s is not None else None
    gen = imageio_ffmpeg.read_frames(path, input_params=input_params, output_params=output_params)
    try:
        try:
            meta = next(gen)
            width, height = (int(v) for v in meta["size"])
        except StopIteration:
            raise VideoLoadError(f"video file {path} contains no frames") from None
        count = 0
        while max_frames is None or count < max_frames:
            try:
                raw = next(gen)
            except StopIteration:
                return
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            count += 1
    except VideoLoadError:
        raise
    except GeneratorExit:
        raise
    except Exception as exc:  # noqa: BLE001 - ffmpeg's reasons vary; kept as the cause
        raise _ffmpeg_error(path, exc) from exc
    finally:
        gen.close()


@dataclass
class DecodedVideo:
    """A video file decoded within limits (``decode_video``), and how it maps to the file.

    Processed frame i is frame ``i * stride`` of the file read at ``read_fps`` (constant)
    for at most ``trim_s`` seconds; ``read_fps`` is None when the file was read as stored.
    """

    frames: List["StoredFrame"]
    fps: float  # of the decoded frames (0.0: unknown, only when read as stored)
    width: int
    height: int
    probe: VideoProbe
    stride: int = 1
    read_fps: Optional[float] = None
    trim_s: Optional[float] = None
    fps_assumed: bool = False  # the file gave no frame rate; ``fps`` is a guess
    capped: bool = False  # stopped at max_frames / max_seconds before the end of the file
    damaged_after: Optional[int] = None  # a decode error after this frame; the frames before are kept

    @property
    def resized(self) -> bool:
        return (self.width, self.height) != (self.probe.width, self.probe.height)


#: Frame rate assumed (at most) when a file gives none and limits are asked for.
ASSUMED_FPS = 24.0


def decode_video(path: str, *, max_seconds: Optional[float] = None, max_frames: Optional[int] = None,
                 max_fps: Optional[float] = None, max_short_side: Optional[int] = None,
                 max_long_side: Optional[int] = None, max_raw_bytes: Optional[int] = DEFAULT_MAX_RAW_BYTES,
                 keep_partial: bool = False) -> DecodedVideo:
    """Decode a video file, within limits when any is given; one pass of ffmpeg does it all.

    * ``max_fps``: the file is read at a constant rate, its own (a guess of at most
      ``ASSUMED_FPS`` when unknown), and every k-th frame is kept where that is higher
      (k = ceil(fps / max_fps)), so processed frame i is exactly source frame i * k;
    * ``max_seconds`` / ``max_frames``: the start of the file is kept;
    * ``max_short_side`` / ``max_long_side``: frames downscaled to fit (even sides, area filter);
    * ``max_raw_bytes``: past this total, frames are kept as quality-95 ``EncodedFrame``
      (compressed as they are decoded; None: never);
    * ``keep_partial``: a file damaged midway gives the frames before the damage
      (``damaged_after``) instead of ``VideoLoadError``.
    """
    probe = probe_video(path)
    stride, fps, fps_assumed, read_fps = 1, probe.fps, False, None
    if max_fps is not None:
        if fps <= 0:
            fps, fps_assumed = min(max_fps, ASSUMED_FPS), True
        elif fps > max_fps + 1e-6:
            stride = int(math.ceil(fps / max_fps - 1e-9))
            fps = fps / stride
        read_fps = fps * stride
    caps = [c for c in (max_seconds, (max_frames / fps) if (max_frames and fps > 0) else None) if c is not None]
    trim_s = None
    if caps and probe.seconds > min(caps) + (0.5 / fps if fps > 0 else 0.0):
        trim_s = round(min(caps), 3)
    width, height = fit_within(probe.width, probe.height, max_short_side, max_long_side)
    filters = [f"select=not(mod(n\\,{stride}))"] if stride > 1 else []
    if (width, height) != (probe.width, probe.height):
        filters.append(f"scale={width}:{height}:flags=area")
    frames: List[StoredFrame] = []
    raw_bytes, compress, capped, damaged = 0, False, False, None
    reader = iter_video_frames(path, read_fps, trim_s, filters,
                               None if max_frames is None else max_frames + 1)
    try:
        for frame in reader:
            if max_frames is not None and len(frames) >= max_frames:
                capped = True
                break
            raw_bytes += frame.nbytes
            if not compress and max_raw_bytes is not None and raw_bytes > max_raw_bytes:
                compress = True
                frames = [encode_jpeg(f) for f in frames]
            frames.append(encode_jpeg(frame) if compress else frame.copy())
    except VideoLoadError:
        if not (keep_partial and frames):
            raise
        damaged = len(frames) - 1
    finally:
        reader.close()
    if not frames:
        raise VideoLoadError(f"video file {path} contains no frames")
    h, w = (frames[0].decode() if isinstance(frames[0], EncodedFrame) else frames[0]).shape[:2]
    return DecodedVideo(frames, float(fps), w, h, probe, stride, read_fps, trim_s, fps_assumed,
                        capped or trim_s is not None, damaged)


def decode_video_file(path: str, max_raw_bytes: Optional[int] = None) -> Tuple[List[StoredFrame], float]:
    """Decode every frame of a video file as stored; returns (frames, fps).

    Frames are H x W x 3 uint8 arrays while their total stays under ``max_raw_bytes`` (no
    limit when None); past it, every frame is kept as a quality-95 ``EncodedFrame``,
    compressed as it is decoded so that the raw clip is never in memory at once.
    """
    decoded = decode_video(path, max_raw_bytes=max_raw_bytes)
    return decoded.frames, decoded.fps


def has_audio(path: str, timeout_s: float = 60.0) -> bool:
    """Whether the media file ``path`` has an audio stream (ffmpeg's description of it)."""
    import subprocess

    import imageio_ffmpeg

    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
                          capture_output=True, text=True, timeout=timeout_s)
    return re.search(r"^\s*Stream #\S+.*: Audio: ", done.stderr, flags=re.MULTILINE) is not None


class VideoFrames(Sequence):
    """The frames of one video, stored compactly, with model inputs made on demand.

    ``frames[i]`` (and iteration) gives the preprocessed 3 x S x S float32 model input of
    frame ``i`` — the same thing the reference keeps in ``inference_state["images"]`` — and
    ``frame(i)`` the original H x W x 3 uint8 RGB frame.
    """

    def __init__(
        self,
        frames: Union[Sequence[np.ndarray], np.ndarray, None] = None,
        image_size: int = 1024,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        cache_size: int = 4,
        source: str = "<frames>",
        fps: float = 0.0,
        lazy_paths: Optional[List[str]] = None,
    ) -> None:
        self.image_size = image_size
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.source = source
        self.fps = fps
        self._cache: LRUCache[int, torch.Tensor] = LRUCache(cache_size)
        self._decoded: LRUCache[int, np.ndarray] = LRUCache(8)  # recently decoded compressed frames
        self._lazy_paths = lazy_paths
        self._lock = threading.Lock()
        if lazy_paths is not None:
            self._frames: List[Optional[StoredFrame]] = [None] * len(lazy_paths)
            first = self.frame(0)
        else:
            if frames is None or len(frames) == 0:
                raise VideoLoadError(f"video {source} has no frames")
            self._frames = [f if isinstance(f, EncodedFrame) else self._check_frame(f, i) for i, f in enumerate(frames)]
            first = self.frame(0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        if lazy_paths is None:
            self._check_sizes()

    # ---------------------------------------------------------------- construction
    def _check_frame(self, frame, index: int) -> np.ndarray:
        try:
            return to_rgb_uint8(np.asarray(frame) if not isinstance(frame, Image.Image) else frame)
        except ImageLoadError as exc:
            raise VideoLoadError(f"frame {index} of {self.source}: {exc}") from exc

    def _check_sizes(self) -> None:
        for i, f in enumerate(self._frames):
            if isinstance(f, np.ndarray) and f.shape[:2] != (self.height, self.width):
                raise VideoLoadError(
                    f"frame {i} of {self.source} is {f.shape[1]}x{f.shape[0]}, but frame 0 is "
                    f"{self.width}x{self.height}; all frames of a video must have the same size"
                )

    def load_all(self) -> None:
        """Decode any frame not decoded yet (frame folders opened lazily)."""
        for i in range(len(self._frames)):
            self.frame(i)

    # --------------------------------------------------------------------- access
    @property
    def num_frames(self) -> int:
        return len(self._frames)

    @property
    def video_height(self) -> int:
        return self.height

    @property
    def video_width(self) -> int:
        return self.width

    def __len__(self) -> int:
        return len(self._frames)

    def _index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"frame index must be an int, got {type(index).__name__}")
        n = len(self._frames)
        if not -n <= index < n:
            raise IndexError(f"frame index {index} out of range for a video of {n} frames")
        return int(index) % n

    def frame(self, index: int) -> np.ndarray:
        """The original frame ``index`` as H x W x 3 uint8 RGB."""
        i = self._index(index)
        f = self._frames[i]
        if f is None:
            with self._lock:
                f = self._frames[i]
                if f is None:
                    path = self._lazy_paths[i]  # type: ignore[index]
                    decoded, f = _read_frame_file_kept(path)
                    if i > 0 and decoded.shape[:2] != (self.height, self.width):
                        raise VideoLoadError(
                            f"frame {path} is {decoded.shape[1]}x{decoded.shape[0]}, but the first "
                            f"frame is {self.width}x{self.height}; all frames must have the same size"
                        )
                    self._frames[i] = f
                    self._decoded.put(i, decoded)
                    return decoded
        if isinstance(f, EncodedFrame):
            return self._decoded.get_or_compute(i, f.decode)
        return f

    @property
    def stored_bytes(self) -> int:
        """Memory held by the frames themselves (compressed or raw), excluding caches."""
        return sum(len(f.data) if isinstance(f, EncodedFrame) else f.nbytes
                   for f in self._frames if f is not None)

    def model_input(self, index: int) -> torch.Tensor:
        """The preprocessed 3 x S x S float32 CPU tensor of frame ``index`` (cached)."""
        i = self._index(index)
        return self._cache.get_or_compute(
            i, lambda: preprocess_frame(self.frame(i), self.image_size, self.mean, self.std)
        )

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.model_input(i) for i in range(*index.indices(len(self)))]
        return self.model_input(index)

    def __iter__(self):
        for i in range(len(self)):
            yield self.model_input(i)

    def __repr__(self) -> str:
        return (f"VideoFrames({self.source!r}, {len(self)} frames of {self.width}x{self.height}, "
                f"model input {self.image_size}x{self.image_size})")


def _load_folder(folder: str, lazy: bool, **kwargs) -> VideoFrames:
    paths = list_frame_files(folder)
    if not paths:
        raise VideoLoadError(f"no JPEG or PNG frames found in folder {folder}")
    if lazy:
        frames = VideoFrames(lazy_paths=paths, source=folder, **kwargs)
        # decode the rest in the background, as the reference's async loader does
        threading.Thread(target=_quiet_load_all, args=(frames,), daemon=True).start()
        return frames
    stored = []
    height_width = None
    for p in paths:  # decode each once to check it, keep only the file's bytes
        decoded, kept = _read_frame_file_kept(p)
        if height_width is None:
            height_width = decoded.shape[:2]
        elif decoded.shape[:2] != height_width:
            raise VideoLoadError(
                f"frame {p} is {decoded.shape[1]}x{decoded.shape[0]}, but the first frame is "
                f"{height_width[1]}x{height_width[0]}; all frames of a video must have the same size"
            )
        stored.append(kept)
    return VideoFrames(stored, source=folder, **kwargs)


def _quiet_load_all(frames: VideoFrames) -> None:
    try:
        frames.load_all()
    except Exception:  # errors resurface when the frame is requested
        pass


def load_video(
    source: VideoSource,
    image_size: int = 1024,
    async_loading_frames: bool = False,
    cache_size: int = 4,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    max_raw_bytes: Optional[int] = DEFAULT_MAX_RAW_BYTES,
) -> VideoFrames:
    """Open a video (file path, file bytes, frame folder, frame list or array).

    Raises ``VideoLoadError`` (a ``ValueError``) for missing, unreadable, empty or
    inconsistent input. ``async_loading_frames`` decodes a frame folder in the background.
    A decoded video file larger than ``max_raw_bytes`` is kept JPEG-compressed (None: never).
    """
    if isinstance(source, VideoFrames):
        return source
    opts = dict(image_size=image_size, cache_size=cache_size, mean=mean, std=std)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise VideoLoadError("the video data is empty")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "video")
            with open(path, "wb") as f:
                f.write(source)
            frames, fps = decode_video_file(path, max_raw_bytes)
        return VideoFrames(frames, source="<bytes>", fps=fps, **opts)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return _load_folder(path, async_loading_frames, **opts)
        if not os.path.exists(path):
            raise VideoLoadError(f"no such video file or frame folder: {path}")
        ext = os.path.splitext(path)[1].lower()
        if ext in FRAME_EXTENSIONS:  # a single image: a one-frame video
            try:
                return VideoFrames([load_image(path)], source=path, **opts)
            except ImageLoadError as exc:
                raise VideoLoadError(f"cannot read {path}: {exc}") from exc
        if ext not in VIDEO_EXTENSIONS:
            raise VideoLoadError(
                f"unsupported video input {path}: expected a video file "
                f"({', '.join(VIDEO_EXTENSIONS)}) or a folder of JPEG/PNG frames"
            )
        if os.path.getsize(path) == 0:
            raise VideoLoadError(f"video file {path} is empty")
        frames, fps = decode_video_file(path, max_raw_bytes)
        return VideoFrames(frames, source=path, fps=fps, **opts)
    if isinstance(source, np.ndarray):
        if source.ndim != 4 and not (source.ndim == 3 and source.dtype != object):
            raise VideoLoadError(f"a video array must be N x H x W x 3 (or N x H x W), got shape {source.shape}")
        if len(source) == 0:
            raise VideoLoadError("the video array has no frames")
        return VideoFrames(list(source), source="<array>", **opts)
    if isinstance(source, torch.Tensor):
        raise VideoLoadError("pass video frames as numpy arrays (N x H x W x 3 uint8 RGB), not a torch tensor")
    if isinstance(source, (list, tuple)):
        if len(source) == 0:
            raise VideoLoadError("the list of video frames is empty")
        return VideoFrames(list(source), source="<frames>", **opts)
    raise VideoLoadError(f"unsupported video input of type {type(source).__name__}")


__all__ = [
    "VideoFrames", "VideoLoadError", "LRUCache", "EncodedFrame", "load_video", "preprocess_frame",
    "decode_video_file", "decode_video", "DecodedVideo", "VideoProbe", "probe_video", "iter_video_frames",
    "fit_within", "constant_rate_params", "list_frame_files", "has_audio", "VIDEO_EXTENSIONS", "FRAME_EXTENSIONS",
]
