"""One worker's job: items in, masks out, files written. The same code serves both engines.

``Annotator`` holds the models (built on first use: a run over images never builds the
video predictor) and the prompt source. ``annotate_images`` takes decoded images; those
of one size with box prompts are encoded together (``set_image_batch``) when
``batch_size > 1``, the rest one by one through the Find pipeline (``find_objects``),
so a batch size of 1 gives exactly what the app gives. Anything that goes wrong with an
item (its prompts, the model) makes that item ``failed`` with the reason; only an
output folder that cannot be written (``OutputError``) stops the run.
"""

from __future__ import annotations

import errno
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from sam2.annotate.files import OutputError, explain
from sam2.annotate.manifest import Manifest
from sam2.annotate.options import AnnotateOptions
from sam2.annotate.prompts import ItemPrompts, PromptSource, load_prompts
from sam2.annotate.results import Found, ItemResult
from sam2.annotate.sources import Item
from sam2.annotate.writers import VideoFiles, write_image_files


def read_image(item: Item) -> Tuple[Item, Optional[np.ndarray], str]:
    """``(item, rgb, "")`` or ``(item, None, reason)``; runs in the background readers."""
    from sam2.media.images import load_image

    try:
        return item, load_image(item.path, name=item.key), ""
    except (ValueError, OSError, MemoryError) as exc:
        return item, None, str(exc)


class Annotator:
    def __init__(self, options: AnnotateOptions, prompts: Optional[PromptSource] = None) -> None:
        from sam2.annotate.models import pick_device

        self.options = options
        self.prompts = prompts or load_prompts(options.mode, text=options.text, boxes=options.boxes,
                                               points=options.points)
        self.device = pick_device(options.device)
        self.manifest = Manifest(options.out)
        self._image_model = None
        self._predictor = None
        self._video = None
        self._amg = None
        self._detector = None
        if options.threads:
            import torch

            torch.set_num_threads(int(options.threads))

    # ------------------------------------------------------------------ models
    @property
    def image_model(self):
        if self._image_model is None:
            from sam2.annotate.models import build_image_model

            o = self.options
            self._image_model = build_image_model(o.model, o.checkpoint, self.device, o.precision, o.overrides)
        return self._image_model

    @property
    def predictor(self):
        if self._predictor is None:
            from sam2.sam2_image_predictor import SAM2ImagePredictor

            self._predictor = SAM2ImagePredictor(self.image_model)
        return self._predictor

    @property
    def amg(self):
        if self._amg is None:
            from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

            self._amg = SAM2AutomaticMaskGenerator(self.image_model, **self.options.everything.generator_kwargs())
        return self._amg

    @property
    def video_predictor(self):
        if self._video is None:
            from sam2.annotate.models import build_video_predictor

            o = self.options
            self._video = build_video_predictor(o.model, o.checkpoint, self.device, o.precision, o.overrides)
        return self._video

    @property
    def detector(self):
        if self._detector is None:
            from sam2.find import load_detector

            self._detector = load_detector(self.options.detector, device=self.device)
        return self._detector

    def prepare(self, kinds) -> None:
        """Build the models ``kinds`` ("image", "video") need now, so that a bad checkpoint or a
        missing detector is one clear error before any item, not a failure per item."""
        if "image" in kinds:
            _ = self.amg if self.options.mode == "everything" else self.predictor
        if "video" in kinds:
            _ = self.video_predictor
            if self.options.mode == "everything":
                _ = self.amg
        if self.options.mode == "text":
            _ = self.detector

    # ------------------------------------------------------------------ images
    def annotate_images(self, decoded: Sequence[Tuple[Item, np.ndarray]]) -> List[ItemResult]:
        """Results in the order given; same-size box-prompted images share one encoder call."""
        results: Dict[str, ItemResult] = {}
        batchable: List[Tuple[Item, np.ndarray, list]] = []
        for item, rgb in decoded:
            try:
                prompts = self.prompts.for_item(item, rgb.shape[:2])
                if prompts is None:
                    results[item.key] = ItemResult.skipped(item.key, "image", "not named in the prompt file")
                    continue
                if self.options.mode in ("text", "boxes"):
                    kept = self._boxes(rgb, prompts)
                    if not kept:
                        results[item.key] = self._done(item, rgb, [])
                    elif self.options.batch_size > 1:
                        batchable.append((item, rgb, kept))
                    else:
                        results[item.key] = self._done(item, rgb, self._segment_boxes(rgb, kept))
                elif self.options.mode == "points":
                    results[item.key] = self._done(item, rgb, self._segment_points(rgb, prompts.points.get(0, [])))
                else:
                    results[item.key] = self._done(item, rgb, self._everything(rgb))
            except OutputError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad item never stops the run
                results[item.key] = ItemResult.failed(item.key, "image", _reason(exc))
        for group in _same_size_groups(batchable):
            try:
                found = self._segment_batch([(rgb, kept) for _, rgb, kept in group]) if len(group) > 1 \
                    else [self._segment_boxes(group[0][1], group[0][2])]
                for (item, rgb, _), objs in zip(group, found):
                    results[item.key] = self._done(item, rgb, objs)
            except Exception as exc:  # noqa: BLE001
                for item, _, _ in group:
                    results[item.key] = ItemResult.failed(item.key, "image", _reason(exc))
        return [results[item.key] for item, _ in decoded]

    def _done(self, item: Item, rgb: np.ndarray, objects: List[Found]) -> ItemResult:
        return ItemResult(item.key, "image", "done", height=int(rgb.shape[0]), width=int(rgb.shape[1]),
                          objects=objects)

    def _boxes(self, rgb: np.ndarray, prompts: ItemPrompts) -> list:
        from sam2.find import find_boxes

        o = self.options
        if o.mode == "text":
            _, selection = find_boxes(rgb, list(self.prompts.query), detector=self.detector,
                                      threshold=o.threshold, max_objects=o.max_objects)
        else:
            _, selection = find_boxes(rgb, boxes=prompts.boxes.get(0, []), threshold=o.threshold,
                                      max_objects=o.max_objects)
        return list(selection.kept)

    def _segment_boxes(self, rgb: np.ndarray, kept: list) -> List[Found]:
        from sam2.find import find_objects

        result = find_objects(self.predictor, rgb, boxes=kept, threshold=0.0, max_objects=len(kept))
        return [Found(o.label, o.mask, o.score, o.predicted_iou, prompt_box=o.box) for o in result.objects]

    def _segment_batch(self, group: List[Tuple[np.ndarray, list]]) -> List[List[Found]]:
        """Same-size images encoded in one call, each image's boxes decoded together."""
        p = self.predictor
        p.set_image_batch([rgb for rgb, _ in group])
        boxes = [np.array([d.box for d in kept], dtype=np.float32) for _, kept in group]
        masks, ious, _ = p.predict_batch(box_batch=boxes, multimask_output=False)
        out = []
        for (rgb, kept), m, s in zip(group, masks, ious):
            n = len(kept)
            m = np.asarray(m).reshape(n, *rgb.shape[:2])
            s = np.asarray(s).reshape(n)
            out.append([Found(d.label, m[i], d.score, float(s[i]), prompt_box=d.box) for i, d in enumerate(kept)])
        p.reset_predictor()
        return out

    def _segment_points(self, rgb: np.ndarray, objects) -> List[Found]:
        if not objects:
            return []
        p = self.predictor
        p.set_image(rgb)
        out = []
        for obj in objects[: self.options.max_objects]:
            coords = np.array(obj.points, dtype=np.float32)
            labels = np.array(obj.point_labels, dtype=np.int32)
            masks, scores, _ = p.predict(point_coords=coords, point_labels=labels,
                                         multimask_output=len(coords) == 1)
            best = int(np.argmax(scores))
            out.append(Found(obj.label, masks[best], 1.0, float(scores[best]), point_coords=obj.points,
                             point_labels=obj.point_labels))
        return out

    def _everything(self, rgb: np.ndarray) -> List[Found]:
        records = self.amg.generate(rgb)[: self.options.max_objects]
        return [Found("object", r["segmentation"], 1.0, r["predicted_iou"], r["stability_score"],
                      point_coords=r["point_coords"], point_labels=[1] * len(r["point_coords"]))
                for r in records]

    # ------------------------------------------------------------------ writing
    def finish(self, result: ItemResult) -> dict:
        """Write an image result's files and its part; returns the part."""
        part = write_image_files(result, self.options.out, self.prompts.categories, self.options.yolo,
                                 self.options.png) if result.kind == "image" else dict(
            key=result.key, kind=result.kind, status=result.status, reason=result.reason,
            height=result.height, width=result.width, **result.extra)
        self.manifest.record(part)
        return part

    # ------------------------------------------------------------------ videos
    def annotate_video(self, item: Item) -> ItemResult:
        """Track the prompted objects through a video and write its exports; never raises for a bad clip."""
        try:
            return self._video_item(item)
        except OutputError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise OutputError(exc.errno, explain(exc, self.options.out)) from exc
            return ItemResult.failed(item.key, "video", _reason(exc).replace(item.path, item.key))
        except Exception as exc:  # noqa: BLE001
            return ItemResult.failed(item.key, "video", _reason(exc).replace(item.path, item.key))

    def _video_item(self, item: Item) -> ItemResult:
        import torch

        vp = self.video_predictor
        state = vp.init_state(item.path)
        h, w, n = int(state.video_height), int(state.video_width), int(state.num_frames)
        limit = self.options.max_video_frames
        objects = self._video_prompts(item, state, (h, w))
        if objects is None:
            return ItemResult.skipped(item.key, "video", "not named in the prompt file")
        extra = {"num_frames": n, "fps": float(getattr(state.images, "fps", 0.0) or 0.0),
                 "objects": [{"id": o["id"], "label": o["label"]} for o in objects]}
        if not objects:
            return ItemResult(item.key, "video", "done", "no objects found on the prompted frames", h, w, extra=extra)
        files = VideoFiles(self.options.out, item.key, w, h, n, extra["fps"], objects, self.prompts.categories)
        try:
            first = min(f for o in objects for f in o["prompted_frames"])
            with torch.inference_mode():
                passes = [(first, False)] + ([(first, True)] if first > 0 else [])
                for start, reverse in passes:
                    for f, ids, logits in vp.propagate_in_video(state, start_frame_idx=start, reverse=reverse,
                                                                max_frame_num_to_track=limit):
                        if reverse and f == start:
                            continue
                        masks = {int(i): (logits[k, 0] > 0).cpu().numpy() for k, i in enumerate(ids)}
                        files.add(int(f), masks)
            files.finish()
        except BaseException:
            files.abandon()
            raise
        extra["frames_tracked"] = len(files.tracked)
        return ItemResult(item.key, "video", "done", "", h, w, extra=extra)

    def _video_prompts(self, item: Item, state, hw) -> Optional[List[dict]]:
        """Add the prompts to the video session; the objects (id, label, prompted frames), None to skip."""
        vp, o = self.video_predictor, self.options
        objects: List[dict] = []

        def new(label: str, frame: int) -> int:
            if len(objects) >= 255:  # DAVIS PNGs hold object ids 1..255
                raise ValueError("more than 255 objects in one video; lower --max-objects")
            objects.append({"id": len(objects) + 1, "label": label, "prompted_frames": [frame]})
            return len(objects)

        if o.mode in ("text", "everything"):
            frame0 = state.images.frame(0)
            if o.mode == "text":
                for d in self._boxes(frame0, ItemPrompts()):
                    vp.add_new_points_or_box(state, 0, new(d.label, 0), box=np.array(d.box, dtype=np.float32))
            else:
                for r in self.amg.generate(frame0)[: min(o.max_objects, 255)]:
                    vp.add_new_mask(state, 0, new("object", 0), np.asarray(r["segmentation"], dtype=bool))
            return objects
        prompts = self.prompts.for_item(item, hw)
        if prompts is None:
            return None
        for frame, dets in sorted(prompts.boxes.items()):
            for d in dets[: o.max_objects]:
                if d.score >= o.threshold:
                    vp.add_new_points_or_box(state, frame, new(d.label, frame), box=np.array(d.box, np.float32))
        for frame, objs in sorted(prompts.points.items()):
            for p in objs[: o.max_objects]:
                vp.add_new_points_or_box(state, frame, new(p.label, frame), points=np.array(p.points, np.float32),
                                         labels=np.array(p.point_labels, np.int32))
        return objects


def _same_size_groups(entries: List[Tuple[Item, np.ndarray, list]]):
    by_size: Dict[Tuple[int, int], list] = {}
    for e in entries:
        by_size.setdefault(tuple(e[1].shape[:2]), []).append(e)
    return list(by_size.values())


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return text if name in ("ImageLoadError", "VideoLoadError", "BoxFileError", "PromptError") and text \
        else f"{name}: {text}" if text else name


__all__ = ["Annotator", "read_image"]
