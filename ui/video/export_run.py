"""Make a clip's downloads at the upload's own size, frame rate and sound, in one pass.

The app tracks a bounded copy of the upload (``ui.video.media``: 480p and 15 fps on a
CPU). The downloads are made from the upload itself: its frames are decoded again one at
a time (``iter_source_frames``; never all in memory), each gets every object's mask at
its size and time (``ui.video.fullres``), and is then drawn with the chosen effect into
the MP4 and written to the mask files (``ui.video.exports.MaskFiles``) before the next
one is decoded. The MP4 finally gets the upload's first audio stream (AAC), cut to the
exported span (``sam2.media.mp4.mux_audio``).

Where the upload cannot be read again (it was never kept, or it changed), the files are
made from the processed frames instead, and the result says so.

Bounds: an upload larger than ``MAX_EXPORT_PIXELS`` per frame (the 4K UHD pixel count) is
exported downscaled to that many pixels (same aspect ratio; ffmpeg scales while decoding, so
full-size frames never reach Python), with a note in the status and in the files' metadata
(``processed.downscaled`` in the JSON files and ``objects.json``, the MP4's ``comment``). An
8K clip otherwise cost ~11 GB (encoder 6.5, decoder 2.2). The encoder buffers few frames
(``sam2.media.mp4``). Every frame checks ``stop`` (Cancel, a closed session): the export
then ends with ``ExportCancelled`` within one frame and leaves no partial files behind.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

from ui.common.progress import ProgressFn
from ui.common.errors import UserError
from ui.video.exports import ClipExport, MaskFiles, stored_masks, write_json
from ui.video.fullres import SourceRateMasks
from ui.video.media import SourceSpan, iter_source_frames
from ui.video.render import Layer, render_frame
from sam2.media.mp4 import Mp4Writer, mux_audio

log = logging.getLogger(__name__)

#: Largest exported frame, in pixels: the 4K UHD count (3840 x 2160); bigger uploads are
#: exported downscaled to it.
MAX_EXPORT_PIXELS = 3840 * 2160


class ExportCancelled(UserError):
    """The export was stopped (Cancel, or its session closed); no files were kept."""

    def __init__(self) -> None:
        super().__init__("The export was cancelled; no files were made.")


def export_size(width: int, height: int, max_pixels: Optional[int] = None) -> Tuple[int, int]:
    """(width, height) of the exported frames: the upload's own, or scaled down (aspect
    kept, even sides) to at most ``max_pixels`` (default ``MAX_EXPORT_PIXELS``)."""
    max_pixels = MAX_EXPORT_PIXELS if max_pixels is None else max_pixels
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / float(width * height))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def _check(stop: Optional[threading.Event]) -> None:
    if stop is not None and stop.is_set():
        raise ExportCancelled()



@dataclass(frozen=True)
class ExportPaths:
    video: str
    masks_zip: str
    coco: str
    boxes: str

    def as_list(self) -> List[str]:
        return [self.video, self.masks_zip, self.coco, self.boxes]


@dataclass
class ExportResult:
    """What was written, and how it relates to the upload (for the status line and tests)."""

    paths: ExportPaths
    width: int
    height: int
    fps: float
    num_frames: int
    tracked_frames: int
    full_fidelity: bool  # made from the upload itself (else from the processed frames)
    audio: bool
    seconds: float = 0.0
    notes: List[str] = field(default_factory=list)


class _SourceUnreadable(Exception):
    """Reading the upload again failed: fall back to the processed frames."""


def _frames_or_fail(span: SourceSpan, size: Optional[Tuple[int, int]] = None) -> Iterator[np.ndarray]:
    try:
        yield from iter_source_frames(span, size=size)
    except GeneratorExit:
        raise
    except Exception as exc:  # noqa: BLE001 - any decode failure means the same thing here
        raise _SourceUnreadable(str(exc)) from exc


def _source_clip(clip: ClipExport, span: SourceSpan, hw, downscaled: Optional[str] = None) -> ClipExport:
    """The export description at the source's size and rate; prompted frames renumbered."""
    h, w = hw
    objects = [replace(o, prompted_frames=tuple(f * span.stride for f in o.prompted_frames)) for o in clip.objects]
    processed = {"width": clip.width, "height": clip.height, "fps": clip.fps, "num_frames": clip.num_frames,
                 "frame_map": f"processed frame i = frame i*{span.stride} here; frames in between "
                              "blend the masks of their two processed neighbours (see docs/exports.md)",
                 "stride": span.stride}
    if downscaled:
        processed["downscaled"] = downscaled
    return replace(clip, num_frames=span.max_frames, height=h, width=w, fps=span.fps, objects=objects,
                   processed=processed)


def _downscale_note(span: SourceSpan, size: Tuple[int, int]) -> str:
    return (f"the upload is {span.width}×{span.height}; the files are {size[0]}×{size[1]} "
            f"(exports are limited to {MAX_EXPORT_PIXELS:,} pixels per frame, the 4K UHD size)")


def _write(clip: ClipExport, frames: Iterator[np.ndarray], masks_of: Callable[[int], dict],
           tracked_of: Callable[[int], bool], effect: str, video_path: str, paths: ExportPaths,
           progress: ProgressFn, stop: Optional[threading.Event] = None, comment: str = "") -> ClipExport:
    """One pass over ``frames``: render into the MP4, masks into the files. Returns the clip
    description with the real frame count. ``stop`` is checked before every frame."""
    colors = {o.obj_id: o.color for o in clip.objects}
    _check(stop)
    files = MaskFiles(clip, paths.masks_zip)
    count = 0
    metadata = {"comment": comment} if comment else None
    try:
        with Mp4Writer(video_path, fps=clip.fps, metadata=metadata) as writer:
            for j, frame in enumerate(frames):
                _check(stop)
                if j % 5 == 0:
                    progress(min(j / max(clip.num_frames, 1), 1.0),
                             f"Exporting frame {j + 1} of {clip.num_frames} ({clip.width}×{clip.height})...")
                masks = masks_of(j)
                layers = [Layer(m, colors[oid]) for oid, m in masks.items()]
                writer.write(render_frame(frame, layers, effect))
                files.add(j, masks, tracked_of(j))
                count = j + 1
    except BaseException:
        files.close()
        raise
    if count == 0:
        files.close()
        raise _SourceUnreadable("no frames")
    files.clip = replace(clip, num_frames=count)
    files.close()
    write_json(files.coco_document(), paths.coco)
    write_json(files.boxes_document(), paths.boxes)
    return files.clip


def make_exports(clip: ClipExport, span: Optional[SourceSpan], processed_frame: Callable[[int], np.ndarray],
                 effect: str, paths: ExportPaths, progress: ProgressFn,
                 stop: Optional[threading.Event] = None) -> ExportResult:
    """Write the four downloads of ``clip`` (the app's masks, processed size and rate) at
    the fidelity of ``span`` (the upload), or of the processed frames when ``span`` is None
    or the upload cannot be read. ``stop`` set: ``ExportCancelled`` within a frame, and the
    files written so far are removed."""
    try:
        return _make_exports(clip, span, processed_frame, effect, paths, progress, stop)
    except ExportCancelled:
        for path in paths.as_list() + [paths.video[:-4] + "_noaudio.mp4"]:
            try:
                os.remove(path)
            except OSError:
                pass
        raise


def _make_exports(clip: ClipExport, span: Optional[SourceSpan], processed_frame: Callable[[int], np.ndarray],
                  effect: str, paths: ExportPaths, progress: ProgressFn,
                  stop: Optional[threading.Event]) -> ExportResult:
    t0 = time.perf_counter()
    notes: List[str] = []
    if span is not None:
        tmp_video = paths.video[:-4] + "_noaudio.mp4"
        size = export_size(span.width, span.height) if span.width and span.height else None
        downscaled = _downscale_note(span, size) if size is not None and size != (span.width, span.height) else ""
        try:
            frames = _frames_or_fail(span, size if downscaled else None)
            first = next(frames, None)
            if first is None:
                raise _SourceUnreadable("no frames")
            if first.shape[0] * first.shape[1] > MAX_EXPORT_PIXELS:  # the file's size was not what it said
                raise _SourceUnreadable(f"frames of {first.shape[1]}x{first.shape[0]}")
            full = _source_clip(clip, span, first.shape[:2], downscaled)
            resampler = SourceRateMasks(clip.masks, [o.obj_id for o in clip.objects], (clip.height, clip.width),
                                        first.shape[:2], span.stride, clip.num_frames)

            def all_frames() -> Iterator[np.ndarray]:
                yield first
                yield from frames

            def tracked(j: int) -> bool:
                return clip.masks.has_frame(resampler.nearest(j))

            done = _write(full, all_frames(), resampler.frame, tracked, effect, tmp_video, paths, progress, stop,
                          comment=f"SAM 2 Studio export; {downscaled}" if downscaled else "")
            if downscaled:
                notes.append(downscaled)
        except _SourceUnreadable as exc:
            if os.path.exists(tmp_video):
                os.remove(tmp_video)
            log.warning("export: the upload could not be read again (%s); using the processed frames", exc)
            notes.append("the original upload could not be read again, so the files have the processed "
                         "size and frame rate")
        else:
            progress(None, "Adding the sound...")
            audio = False
            try:

                audio = mux_audio(tmp_video, span.path, paths.video, seconds=done.num_frames / done.fps)
            except Exception as exc:  # noqa: BLE001 - the video without sound beats no video
                log.warning("export: %s", exc)
                notes.append("the sound could not be added")
            if audio:
                os.remove(tmp_video)
            else:
                os.replace(tmp_video, paths.video)
            return ExportResult(paths, done.width, done.height, done.fps, done.num_frames,
                                sum(1 for j in range(done.num_frames) if tracked(j)), True, audio,
                                time.perf_counter() - t0, notes)
    frames = (processed_frame(f) for f in range(clip.num_frames))
    done = _write(clip, frames, lambda f: stored_masks(clip, f), clip.masks.has_frame, effect, paths.video,
                  paths, progress, stop)
    return ExportResult(paths, done.width, done.height, done.fps, done.num_frames, len(clip.masks.frames()),
                        False, False, time.perf_counter() - t0, notes)


def write_preview(path: str, clip: ClipExport, frame_of: Callable[[int], np.ndarray], effect: str,
                  progress: ProgressFn, stop: Optional[threading.Event] = None) -> str:
    """The preview MP4 of the processed clip: every frame, its objects drawn with ``effect``,
    from the snapshot of masks in ``clip``. ``stop`` is checked before every frame."""
    with Mp4Writer(path, fps=clip.fps) as writer:
        for f in range(clip.num_frames):
            _check(stop)
            if f % 8 == 0:
                progress(f / clip.num_frames, f"Rendering frame {f} of {clip.num_frames}...")
            packed = clip.masks.frame(f)
            layers = [Layer(packed[o.obj_id].unpack(), o.color) for o in clip.objects
                      if o.obj_id in packed and packed[o.obj_id].area]
            writer.write(render_frame(frame_of(f), layers, effect))
    return path
