"""Where a video's frames are kept: compactly, decoded on demand, with small LRU caches."""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections import OrderedDict
from typing import Callable, Generic, Hashable, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch
from PIL import Image

from sam2.media.frame_codec import EncodedFrame, StoredFrame, VideoLoadError
from sam2.media.frame_stream import StreamedVideoFile
from sam2.media.frame_preprocess import IMAGENET_MEAN, IMAGENET_STD, preprocess_frame
from sam2.media.images import ImageLoadError, to_rgb_uint8

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")

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


def _read_frame_file_kept(path: str) -> Tuple[np.ndarray, EncodedFrame]:
    """Decode a frame file (checking it) and keep its bytes as the compact stored form."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        return EncodedFrame(data, "file").decode(), EncodedFrame(data, "file")
    except (OSError, ImageLoadError, Image.DecompressionBombError, SyntaxError) as exc:
        raise VideoLoadError(f"cannot read video frame {path}: {exc}") from exc

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
        stream: Optional["StreamedVideoFile"] = None,
    ) -> None:
        """``frames``: the frames (arrays or ``EncodedFrame``); or ``lazy_paths``: frame files
        decoded when first asked for; or ``stream``: a video file decoded in order as frames
        are asked for (its resources go with this object: ``close()`` or garbage collection)."""
        self.image_size = image_size
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.source = source
        self.fps = fps
        self._cache: LRUCache[int, torch.Tensor] = LRUCache(cache_size)
        self._decoded: LRUCache[int, np.ndarray] = LRUCache(8)  # recently decoded compressed frames
        self._lazy_paths = lazy_paths
        self._lock = threading.Lock()
        self._stream = stream
        if stream is not None:
            self._frames = [None] * stream.num_frames  # the stream keeps them
            self._finalizer = weakref.finalize(self, stream.close)
            first = self.frame(0)
        elif lazy_paths is not None:
            self._frames: List[Optional[StoredFrame]] = [None] * len(lazy_paths)
            first = self.frame(0)
        else:
            if frames is None or len(frames) == 0:
                raise VideoLoadError(f"video {source} has no frames")
            self._frames = [f if isinstance(f, EncodedFrame) else self._check_frame(f, i) for i, f in enumerate(frames)]
            first = self.frame(0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        if lazy_paths is None and stream is None:
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
        if f is None and self._stream is not None:
            f = self._decoded.get(i)
            if f is not None:
                return f
            f = self._stream.get(i)
        elif f is None:
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

    def stored(self, index: int) -> Optional[StoredFrame]:
        """Frame ``index`` in the form it is kept in (None: not decoded yet)."""
        i = self._index(index)
        if self._stream is not None:
            return self._stream.get(i)
        return self._frames[i]

    def close(self) -> None:
        """Stop decoding a streamed file and delete its frames kept on disk."""
        if self._stream is not None:
            self._finalizer()

    @property
    def stored_bytes(self) -> int:
        """Memory held by the frames themselves (compressed or raw), excluding caches."""
        if self._stream is not None:
            return self._stream.ram_stored_bytes
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


def load_frame_folder(folder: str, lazy: bool, **kwargs) -> VideoFrames:
    """A folder of numbered JPEG/PNG frames as ``VideoFrames`` (``lazy``: decoded in the
    background, each frame on first use if it is asked for earlier)."""
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
