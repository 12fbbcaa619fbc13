"""SAM2VideoPredictor: interactive video segmentation with the official API.

A session (``init_state``) holds the video and, per object, the prompts and the per-frame
results that serve as memory. Prompts (points, boxes, masks) on a frame give that frame's
mask at once; ``propagate_in_video`` then tracks every object through the video, frame by
frame, each frame conditioned on the memories of the prompted frames and of recent frames.

The computation matches the reference ``SAM2VideoPredictor`` step for step (objects are
processed one at a time, memories are stored rounded to bfloat16, small holes of the low
resolution masks are filled), so that results agree with it. Differences are on the
robustness side: float32 works on the CPU, hole filling needs no compiled extension,
frame indices and object ids are checked, objects whose prompts were all cleared are
reported as absent instead of stopping propagation.
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from sam2.configs import SAM2Config
from sam2.media.video import LRUCache, load_video
from sam2.modeling.memory_cache import ObjectMemoryCache
from sam2.modeling.tracker import NO_OBJ_SCORE, FrameOutput, MemoryBank, SAM2Tracker
from sam2.spill_store import SpillError, SpillStore
from sam2.utils.mask_cleanup import fill_holes_in_mask_scores
from sam2.utils.memory import trim_process_memory
from sam2.video_state import UnknownObjectError, VideoSessionState

PropagateResult = Tuple[int, List[Hashable], torch.Tensor]

_COND = "cond_frame_outputs"
_NON_COND = "non_cond_frame_outputs"

# Long propagations hand freed heap memory back to the OS this often (see sam2.utils.memory).
TRIM_EVERY_N_FRAMES = 8


def _as_float_tensor(values: Any, what: str) -> torch.Tensor:
    try:
        t = values.detach().cpu().float() if isinstance(values, torch.Tensor) else torch.tensor(np.asarray(values, dtype=np.float32))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric, got {values!r}") from exc
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return t


class SAM2VideoPredictor(SAM2Tracker):
    """Track objects through a video from prompts on some of its frames."""

    def __init__(
        self,
        config: SAM2Config,
        fill_hole_area: Optional[int] = None,
        non_overlap_masks: bool = False,
        clear_non_cond_mem_around_input: bool = False,
        add_all_frames_to_correct_as_cond: bool = False,
        feature_cache_size: int = 2,
        **kwargs: Any,
    ) -> None:
        """``fill_hole_area``: holes of up to this many low-resolution (256x256) pixels are
        filled in output masks; None takes ``config.fill_hole_area`` (8 when built with
        ``build_sam2_video_predictor(apply_postprocessing=True)``, else 0).
        ``non_overlap_masks``: each pixel goes to at most one object in outputs.
        ``clear_non_cond_mem_around_input``: a prompt on an already tracked frame drops the
        tracked memories around it (they may show the old, wrong mask).
        ``add_all_frames_to_correct_as_cond``: correction prompts on tracked frames also make
        conditioning frames (by default only first prompts on a frame do)."""
        if kwargs:
            raise TypeError(
                f"unexpected arguments for SAM2VideoPredictor: {', '.join(sorted(kwargs))}; model options "
                "belong in the config (sam2.configs.get_config(name, **overrides))"
            )
        super().__init__(config)
        self.fill_hole_area = config.fill_hole_area if fill_hole_area is None else int(fill_hole_area)
        if self.fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0, got {fill_hole_area}")
        self.non_overlap_masks = non_overlap_masks
        self.clear_non_cond_mem_around_input = clear_non_cond_mem_around_input
        self.add_all_frames_to_correct_as_cond = add_all_frames_to_correct_as_cond
        # EdgeTAM's reference runs SAM 2's older video predictor, which hands out a correction
        # on an already tracked frame as it is when tracking passes that frame again; SAM 2's
        # current one tracks the frame again (replacing the correction's mask, memory and
        # pointer). Each model follows its own reference.
        self.keep_corrections_on_tracked_frames = self.spatial_perceiver is not None
        self.feature_cache_size = max(1, int(feature_cache_size))

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> "SAM2VideoPredictor":
        """Build from an official Hugging Face model id (``"facebook/sam2.1-hiera-large"``);
        keyword arguments as for ``sam2.build_sam.build_sam2_video_predictor``."""
        from sam2.assembly import build_video_model_hf

        return build_video_model_hf(cls, model_id, **kwargs)

    # ------------------------------------------------------------------------ session
    @torch.inference_mode()
    def init_state(
        self,
        video_path: Any,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
        *,
        spill: bool = True,
        spill_dir: Optional[str] = None,
        frames_in_ram: Optional[int] = None,
    ) -> VideoSessionState:
        """Open a video (file, frame folder, frame list/array) and start a session.

        Frames stay on the CPU as uint8 whatever ``offload_video_to_cpu`` says (that is the
        compact form); ``offload_state_to_cpu`` keeps per-frame memories on the CPU.

        RAM stays bounded whatever the video's length: per object, the outputs of the
        ``frames_in_ram`` most recently used tracked frames stay in RAM (None: what tracking
        the next frame reads, ``tracking_window()`` frames; 0: none) and older ones go to a
        session folder under ``spill_dir`` (default ``$SAM2_SPILL_DIR`` or
        ``<temp>/sam2-spill``), read back bit-identical when needed. The folder is deleted
        with the session (``reset_state``, ``state.close()``, garbage collection).
        ``spill=False`` keeps every output in RAM (the reference's behaviour). An unusable
        folder raises ``SpillError`` (an ``OSError``) naming it. A video file is decoded as
        frames are needed (``sam2.media.frame_stream``), its compressed frames past 256 MiB
        kept in the same spill folder root.
        """
        device = self.device
        if frames_in_ram is not None and (isinstance(frames_in_ram, bool) or int(frames_in_ram) != frames_in_ram
                                          or frames_in_ram < 0):
            raise ValueError(f"frames_in_ram must be None or an integer >= 0, got {frames_in_ram!r}")
        spill = spill and SpillStore.supported()  # elsewhere (Windows) outputs stay in RAM
        store = SpillStore(spill_dir) if spill else None
        try:
            frames = load_video(video_path, image_size=self.image_size, async_loading_frames=async_loading_frames,
                                spill_dir=spill_dir)
        except BaseException:
            if store is not None:
                store.close()
            raise
        state = VideoSessionState(
            images=frames,
            num_frames=len(frames),
            video_height=frames.video_height,
            video_width=frames.video_width,
            device=device,
            storage_device=torch.device("cpu") if offload_state_to_cpu else device,
            offload_video_to_cpu=offload_video_to_cpu,
            offload_state_to_cpu=offload_state_to_cpu,
            cached_features=LRUCache(self.feature_cache_size),
            spill=store,
            frames_in_ram=(self.tracking_window() if frames_in_ram is None else int(frames_in_ram)) if spill else None,
        )
        # encode frame 0 now: it is where users usually click first
        self._get_image_feature(state, frame_idx=0, batch_size=1)
        return state

    def tracking_window(self) -> int:
        """How many recent tracked frames per object tracking the next frame reads: the
        memories (``num_maskmem`` frames, strided) and the object pointers, plus one."""
        stride = max(1, int(self.memory_temporal_stride_for_eval))
        ptrs = self.max_obj_ptrs_in_encoder if self.use_obj_ptrs_in_encoder else 0
        return max(self.num_maskmem * stride, ptrs) + 1

    def _obj_id_to_idx(self, inference_state: VideoSessionState, obj_id: Hashable) -> int:
        return inference_state.add_object(obj_id)

    def _obj_idx_to_id(self, inference_state: VideoSessionState, obj_idx: int) -> Hashable:
        return inference_state.obj_idx_to_id[obj_idx]

    def _get_obj_num(self, inference_state: VideoSessionState) -> int:
        return inference_state.num_objects

    # ------------------------------------------------------------------------ prompts
    def _point_prompt(
        self,
        state: VideoSessionState,
        points: Any,
        labels: Any,
        box: Any,
        normalize_coords: bool,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Validate and convert user points/labels/box to 1 x P x 2 model-space coordinates."""
        if (points is not None) != (labels is not None):
            raise ValueError("points and labels must be provided together")
        if points is None and box is None:
            raise ValueError("at least one of points or box must be provided as input")
        if points is None:
            pts = torch.zeros(1, 0, 2)
            lbl = torch.zeros(1, 0, dtype=torch.int32)
        else:
            pts = _as_float_tensor(points, "points")
            if pts.dim() == 1 and pts.numel() == 2:
                pts = pts[None]
            if pts.dim() == 2:
                pts = pts[None]
            if pts.dim() != 3 or pts.shape[0] != 1 or pts.shape[-1] != 2:
                raise ValueError(f"points must be an N x 2 array of (x, y), got shape {tuple(pts.shape)}")
            lbl_t = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
            lbl = lbl_t.detach().cpu().to(torch.int32).reshape(1, -1)
            if lbl.shape[1] != pts.shape[1]:
                raise ValueError(f"got {pts.shape[1]} points but {lbl.shape[1]} labels")
        if box is not None:
            b = _as_float_tensor(box, "box")
            if b.numel() != 4:
                raise ValueError(f"box must be [x0, y0, x1, y1], got {b.numel()} values")
            # a box is two corner points with labels 2 and 3, ahead of any clicks
            pts = torch.cat([b.reshape(1, 2, 2), pts], dim=1)
            lbl = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), lbl], dim=1)
        if normalize_coords:
            pts = pts / torch.tensor([state.video_width, state.video_height])
        pts = pts * self.image_size
        return pts.to(state.device), lbl.to(state.device)

    def _begin_prompt(self, state: VideoSessionState, obj_idx: int, frame_idx: int):
        """Whether the frame is a first prompt for the object, its direction, and where the
        result goes (conditioning or not)."""
        tracked = state.frames_tracked_per_obj[obj_idx]
        is_init_cond_frame = frame_idx not in tracked
        reverse = False if is_init_cond_frame else tracked[frame_idx]["reverse"]
        is_cond = is_init_cond_frame or self.add_all_frames_to_correct_as_cond
        return is_init_cond_frame, reverse, is_cond, (_COND if is_cond else _NON_COND)

    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state: VideoSessionState,
        frame_idx: int,
        obj_id: Hashable,
        points: Any = None,
        labels: Any = None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box: Any = None,
    ) -> PropagateResult:
        """Add clicks (label 1 positive, 0 negative) and/or a box [x0, y0, x1, y1] for an
        object on a frame, in video pixel coordinates (or model-space with
        ``normalize_coords=False``). Returns (frame_idx, obj_ids, masks) where masks are
        the logits of every object on that frame at video resolution (objects x 1 x H x W)."""
        state = inference_state
        frame_idx = state.check_frame_idx(frame_idx)
        if box is not None and not clear_old_points:
            raise ValueError(
                "cannot add a box without clearing old points: a box must come before any click "
                "(use clear_old_points=True)"
            )
        new_points, new_labels = self._point_prompt(state, points, labels, box, normalize_coords)
        obj_idx = state.add_object(obj_id)
        per_frame_points = state.point_inputs_per_obj[obj_idx]
        old = per_frame_points.get(frame_idx) if not clear_old_points else None
        if old is None:
            point_inputs = {"point_coords": new_points, "point_labels": new_labels}
        else:
            point_inputs = {
                "point_coords": torch.cat([old["point_coords"], new_points], dim=1),
                "point_labels": torch.cat([old["point_labels"], new_labels], dim=1),
            }
        per_frame_points[frame_idx] = point_inputs
        state.mask_inputs_per_obj[obj_idx].pop(frame_idx, None)

        is_init_cond_frame, reverse, is_cond, storage_key = self._begin_prompt(state, obj_idx, frame_idx)
        # the previous mask of the object on this frame is decoded together with the clicks
        prev_out = state.frame_output(obj_idx, frame_idx, prefer=storage_key)
        prev_logits = None
        if prev_out is not None and prev_out.pred_masks is not None:
            prev_logits = torch.clamp(prev_out.pred_masks.to(state.device, non_blocking=True), -32.0, 32.0)
        current_out, _ = self._run_single_frame_inference(
            state, state.output_dict_per_obj[obj_idx], frame_idx, batch_size=1,
            is_init_cond_frame=is_init_cond_frame, point_inputs=point_inputs, mask_inputs=None,
            reverse=reverse, run_mem_encoder=False, prev_sam_mask_logits=prev_logits,
        )
        state.temp_output_dict_per_obj[obj_idx][storage_key][frame_idx] = current_out
        return self._frame_result(state, frame_idx, is_cond)

    def add_new_points(self, *args: Any, **kwargs: Any) -> PropagateResult:
        """Deprecated name of ``add_new_points_or_box``."""
        return self.add_new_points_or_box(*args, **kwargs)

    @torch.inference_mode()
    def add_new_mask(
        self,
        inference_state: VideoSessionState,
        frame_idx: int,
        obj_id: Hashable,
        mask: Any,
    ) -> PropagateResult:
        """Give an object's mask on a frame: H x W at any resolution, bool or integer (nonzero
        is the object) or float (> 0.5 is the object); resized to the model's input size."""
        state = inference_state
        frame_idx = state.check_frame_idx(frame_idx)
        m = mask.detach().cpu() if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
        if m.dim() != 2 or m.numel() == 0:
            raise ValueError(f"mask must be a non-empty 2-D (H x W) array, got shape {tuple(m.shape)}")
        if m.dtype != torch.bool:
            m = m > 0.5 if m.is_floating_point() else m != 0
        obj_idx = state.add_object(obj_id)
        mask_orig = m[None, None].float().to(state.device)
        if tuple(m.shape) != (self.image_size, self.image_size):
            resized = F.interpolate(mask_orig, size=(self.image_size, self.image_size),
                                    mode="bilinear", align_corners=False, antialias=True)
            mask_inputs = (resized >= 0.5).float()
        else:
            mask_inputs = mask_orig
        state.mask_inputs_per_obj[obj_idx][frame_idx] = mask_inputs
        state.point_inputs_per_obj[obj_idx].pop(frame_idx, None)

        is_init_cond_frame, reverse, is_cond, storage_key = self._begin_prompt(state, obj_idx, frame_idx)
        current_out, _ = self._run_single_frame_inference(
            state, state.output_dict_per_obj[obj_idx], frame_idx, batch_size=1,
            is_init_cond_frame=is_init_cond_frame, point_inputs=None, mask_inputs=mask_inputs,
            reverse=reverse, run_mem_encoder=False,
        )
        state.temp_output_dict_per_obj[obj_idx][storage_key][frame_idx] = current_out
        return self._frame_result(state, frame_idx, is_cond)

    def _frame_result(self, state: VideoSessionState, frame_idx: int, is_cond: bool) -> PropagateResult:
        consolidated = self._consolidate_temp_output_across_obj(
            state, frame_idx, is_cond=is_cond, consolidate_at_video_res=True
        )
        _, video_res_masks = self._get_orig_video_res_output(state, consolidated["pred_masks_video_res"])
        return frame_idx, list(state.obj_ids), video_res_masks

    # ------------------------------------------------------------------------ outputs
    def _get_orig_video_res_output(
        self, inference_state: VideoSessionState, any_res_masks: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mask logits resized to the video resolution (and made non-overlapping if asked)."""
        state = inference_state
        any_res_masks = any_res_masks.to(state.device, non_blocking=True)
        size = (state.video_height, state.video_width)
        if tuple(any_res_masks.shape[-2:]) == size:
            video_res_masks = any_res_masks
        else:
            video_res_masks = F.interpolate(any_res_masks, size=size, mode="bilinear", align_corners=False)
        if self.non_overlap_masks:
            video_res_masks = self._apply_non_overlapping_constraints(video_res_masks)
        return any_res_masks, video_res_masks

    def _consolidate_temp_output_across_obj(
        self,
        inference_state: VideoSessionState,
        frame_idx: int,
        is_cond: bool,
        consolidate_at_video_res: bool = False,
    ) -> Dict[str, torch.Tensor]:
        """Every object's newest mask on a frame in one tensor (objects x 1 x H x W);
        objects with no result there get NO_OBJ_SCORE."""
        state = inference_state
        storage_key = _COND if is_cond else _NON_COND
        if consolidate_at_video_res:
            size, key = (state.video_height, state.video_width), "pred_masks_video_res"
        else:
            size, key = (self.image_size // 4, self.image_size // 4), "pred_masks"
        masks = torch.full((state.num_objects, 1, *size), NO_OBJ_SCORE, dtype=torch.float32,
                           device=state.storage_device)
        for obj_idx in range(state.num_objects):
            out = state.frame_output(obj_idx, frame_idx, prefer=storage_key)
            if out is None:
                continue
            obj_mask = out.pred_masks
            if tuple(obj_mask.shape[-2:]) != size:
                obj_mask = F.interpolate(obj_mask, size=size, mode="bilinear", align_corners=False)
            masks[obj_idx: obj_idx + 1] = obj_mask
        return {key: masks}

    # -------------------------------------------------------------------- propagation
    @torch.inference_mode()
    def propagate_in_video_preflight(self, inference_state: VideoSessionState) -> None:
        """Move pending prompt results into the memory banks, encoding their memories."""
        state = inference_state
        if state.num_objects == 0:
            raise RuntimeError("No input points or masks are provided for any object; please add inputs first.")
        for obj_idx in range(state.num_objects):
            bank = state.output_dict_per_obj[obj_idx]
            temp = state.temp_output_dict_per_obj[obj_idx]
            for storage_key in (_NON_COND, _COND):
                for frame_idx, out in temp[storage_key].items():
                    if out.maskmem_features is None:
                        high_res = F.interpolate(
                            out.pred_masks.to(state.device), size=(self.image_size, self.image_size),
                            mode="bilinear", align_corners=False,
                        )
                        out.maskmem_features, out.maskmem_pos_enc = self._run_memory_encoder(
                            state, frame_idx, batch_size=1, high_res_masks=high_res,
                            object_score_logits=out.object_score_logits, is_mask_from_pts=True,
                        )
                    bank[storage_key][frame_idx] = out
                    if self.clear_non_cond_mem_around_input:
                        self._clear_obj_non_cond_mem_around_input(state, frame_idx, obj_idx)
                temp[storage_key].clear()
            if not bank.cond_frame_outputs:
                # every prompt of this object was cleared: it is reported absent, not tracked
                bank.non_cond_frame_outputs.clear()
                state.frames_tracked_per_obj[obj_idx].clear()
            for frame_idx in bank.cond_frame_outputs:
                bank.non_cond_frame_outputs.pop(frame_idx, None)
        if not any(state.output_dict_per_obj[i].cond_frame_outputs for i in range(state.num_objects)):
            raise RuntimeError("No input points or masks are provided for any object; please add inputs first.")

    @torch.inference_mode()
    def propagate_in_video(
        self,
        inference_state: VideoSessionState,
        start_frame_idx: Optional[int] = None,
        max_frame_num_to_track: Optional[int] = None,
        reverse: bool = False,
    ) -> Iterator[PropagateResult]:
        """Track all objects, yielding (frame_idx, obj_ids, masks) per frame, masks being
        objects x 1 x H x W logits at video resolution (> 0 is the object).

        By default tracking starts at the earliest prompted frame and runs to the end (or
        to frame 0 with ``reverse=True``); ``max_frame_num_to_track`` limits the count.
        """
        state = inference_state
        self.propagate_in_video_preflight(state)
        obj_ids = list(state.obj_ids)
        if start_frame_idx is None:
            start_frame_idx = min(
                t for bank in state.output_dict_per_obj.values() for t in bank.cond_frame_outputs
            )
        start_frame_idx = state.check_frame_idx(start_frame_idx, "start_frame_idx")
        if max_frame_num_to_track is None:
            max_frame_num_to_track = state.num_frames
        if isinstance(max_frame_num_to_track, bool) or not isinstance(max_frame_num_to_track, (int, np.integer)) \
                or max_frame_num_to_track < 0:
            raise ValueError(f"max_frame_num_to_track must be a non-negative integer, got {max_frame_num_to_track!r}")
        if reverse:
            end = max(start_frame_idx - max_frame_num_to_track, 0)
            order = range(start_frame_idx, end - 1, -1) if start_frame_idx > 0 else range(0)
        else:
            end = min(start_frame_idx + max_frame_num_to_track, state.num_frames - 1)
            order = range(start_frame_idx, end + 1)

        # What tracking keeps between frames pays off while frames are tracked one after
        # another; kept after the run (or after a click) it would hold ~30 MB per memory
        # frame and object in an idle session for nothing.
        state.memory_cache.active = True
        try:
            yield from self._track_frames(state, order, obj_ids, reverse)
        finally:
            state.memory_cache.active = False
            state.memory_cache.clear()

    def _track_frames(
        self, state: VideoSessionState, order: Iterable[int], obj_ids: List[Hashable], reverse: bool
    ) -> Iterator[PropagateResult]:
        """The tracking loop of ``propagate_in_video`` over the frames in ``order``."""
        num_objects = state.num_objects
        low_res = self.image_size // 4
        for frame_idx in order:
            state.check_spill()  # a failed write is said once; the session goes on in RAM
            per_obj: List[torch.Tensor] = []
            for obj_idx in range(num_objects):
                bank = state.output_dict_per_obj[obj_idx]
                if not bank.cond_frame_outputs:
                    per_obj.append(torch.full((1, 1, low_res, low_res), NO_OBJ_SCORE, device=state.device))
                    continue
                if frame_idx in bank.cond_frame_outputs:
                    pred_masks = bank.cond_frame_outputs[frame_idx].pred_masks.to(state.device, non_blocking=True)
                    if self.clear_non_cond_mem_around_input:
                        self._clear_obj_non_cond_mem_around_input(state, frame_idx, obj_idx)
                elif self.keep_corrections_on_tracked_frames and frame_idx in bank.non_cond_frame_outputs and (
                        frame_idx in state.point_inputs_per_obj[obj_idx] or frame_idx in state.mask_inputs_per_obj[obj_idx]):
                    # a correction on an already tracked frame, kept as a non-conditioning output
                    # (add_all_frames_to_correct_as_cond off): handed out as it is, not tracked again
                    pred_masks = bank.non_cond_frame_outputs[frame_idx].pred_masks.to(state.device, non_blocking=True)
                else:
                    current_out, pred_masks = self._run_single_frame_inference(
                        state, bank, frame_idx, batch_size=1, is_init_cond_frame=False,
                        point_inputs=None, mask_inputs=None, reverse=reverse, run_mem_encoder=True,
                        memory_cache=state.memory_cache.for_object(obj_idx),
                    )
                    bank.non_cond_frame_outputs[frame_idx] = current_out
                state.mark_tracked(obj_idx, frame_idx, reverse)
                per_obj.append(pred_masks)
            all_masks = torch.cat(per_obj, dim=0) if len(per_obj) > 1 else per_obj[0]
            _, video_res_masks = self._get_orig_video_res_output(state, all_masks)
            if frame_idx % TRIM_EVERY_N_FRAMES == 0:
                trim_process_memory()
            yield frame_idx, obj_ids, video_res_masks

    # ------------------------------------------------------------------ clearing state
    @torch.inference_mode()
    def clear_all_prompts_in_frame(
        self,
        inference_state: VideoSessionState,
        frame_idx: int,
        obj_id: Hashable,
        need_output: bool = True,
    ) -> Optional[PropagateResult]:
        """Remove an object's prompts on a frame. A prompted frame becomes an ordinary
        tracked frame (its last mask is kept as a tracked result)."""
        state = inference_state
        frame_idx = state.check_frame_idx(frame_idx)
        obj_idx = state.obj_idx(obj_id)
        state.point_inputs_per_obj[obj_idx].pop(frame_idx, None)
        state.mask_inputs_per_obj[obj_idx].pop(frame_idx, None)
        temp = state.temp_output_dict_per_obj
        temp[obj_idx].cond_frame_outputs.pop(frame_idx, None)
        temp[obj_idx].non_cond_frame_outputs.pop(frame_idx, None)
        bank = state.output_dict_per_obj[obj_idx]
        out = bank.cond_frame_outputs.pop(frame_idx, None)
        if out is not None:
            bank.non_cond_frame_outputs[frame_idx] = out
            state.frames_tracked_per_obj[obj_idx].pop(frame_idx, None)
        if not need_output:
            return None
        is_cond = any(frame_idx in t.cond_frame_outputs for t in temp.values())
        return self._frame_result(state, frame_idx, is_cond)

    @torch.inference_mode()
    def reset_state(self, inference_state: VideoSessionState) -> None:
        """Remove every prompt, result and object of the session (the video stays)."""
        state = inference_state
        self._reset_tracking_results(state)
        if state.spill is not None:
            state.spill.reset()  # nothing refers to its records any more
        state.obj_id_to_idx.clear()
        state.obj_idx_to_id.clear()
        state.obj_ids.clear()
        state.point_inputs_per_obj.clear()
        state.mask_inputs_per_obj.clear()
        state.output_dict_per_obj.clear()
        state.temp_output_dict_per_obj.clear()
        state.frames_tracked_per_obj.clear()

    def _reset_tracking_results(self, inference_state: VideoSessionState) -> None:
        state = inference_state
        for d in (state.point_inputs_per_obj, state.mask_inputs_per_obj, state.frames_tracked_per_obj):
            for v in d.values():
                v.clear()
        for banks in (state.output_dict_per_obj, state.temp_output_dict_per_obj):
            for bank in banks.values():
                bank.clear()

    @torch.inference_mode()
    def remove_object(
        self,
        inference_state: VideoSessionState,
        obj_id: Hashable,
        strict: bool = False,
        need_output: bool = True,
    ) -> Tuple[List[Hashable], List[Tuple[int, torch.Tensor]]]:
        """Remove an object; returns (remaining obj_ids, [(frame_idx, masks)] for the frames
        where it had prompts). Unknown ids are ignored unless ``strict``."""
        state = inference_state
        old_idx = state.obj_id_to_idx.get(obj_id)
        updated: List[Tuple[int, torch.Tensor]] = []
        if old_idx is None:
            if not strict:
                return state.obj_ids, updated
            state.obj_idx(obj_id)  # raises UnknownObjectError
        if state.num_objects == 1:
            self.reset_state(state)
            return state.obj_ids, updated

        prompted = set(state.point_inputs_per_obj[old_idx]) | set(state.mask_inputs_per_obj[old_idx])
        for frame_idx in prompted:
            self.clear_all_prompts_in_frame(state, frame_idx, obj_id, need_output=False)

        old_ids = list(state.obj_ids)
        kept = [i for i in range(len(old_ids)) if i != old_idx]
        remap = {old: new for new, old in enumerate(kept)}
        new_ids = [old_ids[i] for i in kept]
        state.obj_id_to_idx.clear()
        state.obj_id_to_idx.update((oid, i) for i, oid in enumerate(new_ids))
        state.obj_idx_to_id.clear()
        state.obj_idx_to_id.update((i, oid) for i, oid in enumerate(new_ids))
        state.obj_ids = new_ids
        for container in (state.point_inputs_per_obj, state.mask_inputs_per_obj, state.output_dict_per_obj,
                          state.temp_output_dict_per_obj, state.frames_tracked_per_obj):
            values = {k: container.pop(k) for k in list(container)}
            container.update((remap[k], v) for k, v in values.items() if k in remap)

        if need_output:
            for frame_idx in prompted:
                is_cond = any(frame_idx in t.cond_frame_outputs for t in state.temp_output_dict_per_obj.values())
                _, _, masks = self._frame_result(state, frame_idx, is_cond)
                updated.append((frame_idx, masks))
        return state.obj_ids, updated

    def _clear_non_cond_mem_around_input(self, inference_state: VideoSessionState, frame_idx: int) -> None:
        """Drop every object's tracked memories within num_maskmem (strided) frames of a prompt."""
        for obj_idx in range(inference_state.num_objects):
            self._clear_obj_non_cond_mem_around_input(inference_state, frame_idx, obj_idx)

    def _clear_obj_non_cond_mem_around_input(
        self, inference_state: VideoSessionState, frame_idx: int, obj_idx: int
    ) -> None:
        """Drop one object's tracked memories within num_maskmem (strided) frames of a prompt."""
        r = self.memory_temporal_stride_for_eval
        non_cond = inference_state.output_dict_per_obj[obj_idx].non_cond_frame_outputs
        for t in range(frame_idx - r * self.num_maskmem, frame_idx + r * self.num_maskmem + 1):
            non_cond.pop(t, None)

    # --------------------------------------------------------------------- inference
    def _get_image_feature(self, inference_state: VideoSessionState, frame_idx: int, batch_size: int):
        """Backbone features of a frame (cached for a few frames), expanded to ``batch_size``.

        Returns (image, backbone_out, vision_feats, vision_pos_embeds, feat_sizes) like the
        reference.
        """
        state = inference_state
        cached = state.cached_features.get(frame_idx)
        if cached is None:
            image = state.images[frame_idx].to(state.device).float().unsqueeze(0)
            backbone_out = self.forward_image(image)
            cached = (image, backbone_out)
            state.cached_features.put(frame_idx, cached)
        image, backbone_out = cached
        expanded = {
            "backbone_fpn": [f.expand(batch_size, -1, -1, -1) for f in backbone_out["backbone_fpn"]],
            "vision_pos_enc": [p.expand(batch_size, -1, -1, -1) for p in backbone_out["vision_pos_enc"]],
        }
        features = self._prepare_backbone_features(expanded)
        return (image.expand(batch_size, -1, -1, -1),) + tuple(features)

    def _run_single_frame_inference(
        self,
        inference_state: VideoSessionState,
        output_dict: MemoryBank,
        frame_idx: int,
        batch_size: int,
        is_init_cond_frame: bool,
        point_inputs: Optional[Dict[str, torch.Tensor]],
        mask_inputs: Optional[torch.Tensor],
        reverse: bool,
        run_mem_encoder: bool,
        prev_sam_mask_logits: Optional[torch.Tensor] = None,
        memory_cache: Optional[ObjectMemoryCache] = None,
    ) -> Tuple[FrameOutput, torch.Tensor]:
        """Track one frame; returns the compact output to store and the (hole-filled) masks."""
        state = inference_state
        _, _, vision_feats, vision_pos, feat_sizes = self._get_image_feature(state, frame_idx, batch_size)
        if point_inputs is not None and mask_inputs is not None:
            raise ValueError("a frame takes either point or mask prompts for an object, not both")
        out = self.track_step(
            frame_idx=frame_idx,
            is_init_cond_frame=is_init_cond_frame,
            current_vision_feats=vision_feats,
            current_vision_pos_embeds=vision_pos,
            feat_sizes=feat_sizes,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            output_dict=output_dict,
            num_frames=state.num_frames,
            track_in_reverse=reverse,
            run_mem_encoder=run_mem_encoder,
            prev_sam_mask_logits=prev_sam_mask_logits,
            memory_cache=memory_cache,
        )
        storage = state.storage_device
        maskmem_features = out.maskmem_features
        if maskmem_features is not None:
            # stored as bfloat16 like the reference (half the memory, and the same numbers)
            maskmem_features = maskmem_features.to(torch.bfloat16).to(storage, non_blocking=True)
        pred_masks_dev = out.pred_masks
        if self.fill_hole_area > 0:
            pred_masks_dev = fill_holes_in_mask_scores(pred_masks_dev, self.fill_hole_area)
        compact = FrameOutput(
            pred_masks=pred_masks_dev.to(storage, non_blocking=True),
            obj_ptr=out.obj_ptr,
            object_score_logits=out.object_score_logits,
            maskmem_features=maskmem_features,
            maskmem_pos_enc=self._shared_maskmem_pos_enc(state, out.maskmem_pos_enc),
        )
        return compact, pred_masks_dev

    def _run_memory_encoder(
        self,
        inference_state: VideoSessionState,
        frame_idx: int,
        batch_size: int,
        high_res_masks: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool,
    ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """Encode a memory for a frame from given (1024x1024) mask logits."""
        state = inference_state
        _, _, vision_feats, _, feat_sizes = self._get_image_feature(state, frame_idx, batch_size)
        features, pos_enc = self._encode_new_memory(
            current_vision_feats=vision_feats,
            feat_sizes=feat_sizes,
            pred_masks_high_res=high_res_masks,
            object_score_logits=object_score_logits,
            is_mask_from_pts=is_mask_from_pts,
        )
        features = features.to(torch.bfloat16).to(state.storage_device, non_blocking=True)
        return features, self._shared_maskmem_pos_enc(state, pos_enc)

    def _get_maskmem_pos_enc(self, inference_state: VideoSessionState, current_out: Any) -> Optional[List[torch.Tensor]]:
        """The reference's name: ``current_out`` is a frame output (or a dict with its key)."""
        return self._shared_maskmem_pos_enc(inference_state, current_out["maskmem_pos_enc"])

    def _shared_maskmem_pos_enc(
        self, inference_state: VideoSessionState, pos: Optional[List[torch.Tensor]]
    ) -> Optional[List[torch.Tensor]]:
        """The memory position encoding is the same for all frames and objects: keep one copy."""
        if pos is None:
            return None
        constants = inference_state.constants
        if "maskmem_pos_enc" not in constants:
            constants["maskmem_pos_enc"] = [x[0:1].clone() for x in pos]
        batch = pos[0].size(0)
        return [x.expand(batch, *x.shape[1:]) for x in constants["maskmem_pos_enc"]]


__all__ = ["SAM2VideoPredictor", "VideoSessionState", "UnknownObjectError", "SpillError"]
