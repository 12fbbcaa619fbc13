"""SAM2Tracker: the streaming-memory tracking step of SAM 2 on top of SAM2Base.

For every frame the tracker
1. conditions the frame's lowest-resolution features on a memory bank — spatial memories
   of the conditioning (prompted) frames and of up to ``num_maskmem - 1`` recent frames,
   plus "object pointers" (one token per earlier frame, from the decoder's output token),
   each with a temporal encoding — through the memory attention;
2. decodes a mask with the SAM prompt encoder / mask decoder (or takes a mask prompt as
   the output directly);
3. encodes the (sigmoid, scaled) mask together with the frame features into a new memory.

The numerics follow the reference ``SAM2Base`` tracking methods exactly; methods keep the
reference's names and signatures so code written against it works. Per-frame results are
``FrameOutput`` dataclasses; memory banks are ``MemoryBank`` dataclasses. Both also accept
dictionary-style access (``out["obj_ptr"]``, ``bank["cond_frame_outputs"]``), and plain
dicts with those keys are accepted wherever a bank or an output is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from sam2.modeling.memory_cache import MemoryFrameProjection, ObjectMemoryCache
from sam2.modeling.sam2_base import NO_OBJ_SCORE, SAM2Base, to_sequence

__all__ = [
    "NO_OBJ_SCORE",
    "ItemAccessMixin",
    "FrameOutput",
    "MemoryBank",
    "SAM2Tracker",
    "select_closest_cond_frames",
    "get_1d_sine_pe",
]


class ItemAccessMixin:
    """Dictionary-style access to dataclass fields, for code written against dict states."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__dataclass_fields__  # type: ignore[attr-defined]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self else default

    def keys(self):
        return self.__dataclass_fields__.keys()  # type: ignore[attr-defined]


@dataclass
class FrameOutput(ItemAccessMixin):
    """What tracking one frame produced for a batch of objects (usually one object).

    ``pred_masks``: B x 1 x 256 x 256 logits; ``obj_ptr``: B x C; ``object_score_logits``:
    B x 1; ``maskmem_features``: B x mem_dim x 64 x 64 (None until the memory encoder ran;
    EdgeTAM: B x 512 x mem_dim compressed tokens); ``maskmem_pos_enc``: list with one map
    (or token sequence) of the same shape. The last three fields are
    kept only by ``track_step`` output and dropped from what a session stores.
    """

    pred_masks: Optional[torch.Tensor] = None
    obj_ptr: Optional[torch.Tensor] = None
    object_score_logits: Optional[torch.Tensor] = None
    maskmem_features: Optional[torch.Tensor] = None
    maskmem_pos_enc: Optional[List[torch.Tensor]] = None
    pred_masks_high_res: Optional[torch.Tensor] = None
    point_inputs: Optional[Dict[str, torch.Tensor]] = None
    mask_inputs: Optional[torch.Tensor] = None


@dataclass
class MemoryBank(ItemAccessMixin):
    """Per-frame outputs of one object: prompted (conditioning) frames and tracked frames."""

    cond_frame_outputs: Dict[int, FrameOutput] = field(default_factory=dict)
    non_cond_frame_outputs: Dict[int, FrameOutput] = field(default_factory=dict)

    def clear(self) -> None:
        self.cond_frame_outputs.clear()
        self.non_cond_frame_outputs.clear()


def select_closest_cond_frames(
    frame_idx: int, cond_frame_outputs: Mapping[int, Any], max_cond_frame_num: int
) -> Tuple[Dict[int, Any], Dict[int, Any]]:
    """Split conditioning frames into the ones the memory attention sees and the rest.

    With no limit (-1) or few enough frames, all are selected. Otherwise the nearest
    conditioning frame before ``frame_idx``, the nearest at-or-after it, and then the
    temporally closest others up to ``max_cond_frame_num`` are selected.
    """
    if max_cond_frame_num == -1 or len(cond_frame_outputs) <= max_cond_frame_num:
        return dict(cond_frame_outputs), {}
    if max_cond_frame_num < 2:
        raise ValueError("max_cond_frames_in_attn must be -1 or at least 2")
    chosen: Dict[int, Any] = {}
    before = [t for t in cond_frame_outputs if t < frame_idx]
    if before:
        chosen[max(before)] = cond_frame_outputs[max(before)]
    after = [t for t in cond_frame_outputs if t >= frame_idx]
    if after:
        chosen[min(after)] = cond_frame_outputs[min(after)]
    others = sorted((t for t in cond_frame_outputs if t not in chosen), key=lambda t: abs(t - frame_idx))
    for t in others[: max_cond_frame_num - len(chosen)]:
        chosen[t] = cond_frame_outputs[t]
    rest = {t: v for t, v in cond_frame_outputs.items() if t not in chosen}
    return chosen, rest


def get_1d_sine_pe(pos_inds: torch.Tensor, dim: int, temperature: float = 10000) -> torch.Tensor:
    """Transformer-style sine/cosine encoding of (fractional) positions: ... -> ... x dim.

    The first half of the channels holds the sines, the second half the cosines.
    """
    half = dim // 2
    idx = torch.arange(half, dtype=torch.float32, device=pos_inds.device)
    freqs = temperature ** (2 * (idx // 2) / half)
    angles = pos_inds.unsqueeze(-1) / freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _to_bchw(seq: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """(HW) x B x C token sequence -> B x C x H x W map."""
    return seq.permute(1, 2, 0).view(seq.size(1), seq.size(2), *size)


class SAM2Tracker(SAM2Base):
    """SAM2Base plus the memory-based tracking step (see the module docstring)."""

    # ------------------------------------------------------------ memory conditioning
    def _memory_frames(
        self,
        frame_idx: int,
        output_dict: Mapping[str, Mapping[int, Any]],
        selected_cond: Mapping[int, Any],
        unselected_cond: Mapping[int, Any],
        track_in_reverse: bool,
    ) -> List[Tuple[int, int, Any]]:
        """(temporal slot, frame index, output) of the frames whose spatial memories are
        attended to.

        Conditioning frames take slot 0. Slots 1 .. num_maskmem-1 hold the recent frames,
        slot num_maskmem-1 being the adjacent one; with a memory stride r > 1 the others
        are taken among every r-th frame. Missing frames are simply absent.
        """
        pairs: List[Tuple[int, int, Any]] = [(0, t, out) for t, out in selected_cond.items()]
        stride = 1 if self.training else self.memory_temporal_stride_for_eval
        step = -1 if track_in_reverse else 1  # direction of "the past"
        non_cond = output_dict["non_cond_frame_outputs"]
        for t_pos in range(1, self.num_maskmem):
            frames_back = self.num_maskmem - t_pos
            if frames_back == 1:
                prev = frame_idx - step
            elif not track_in_reverse:
                prev = ((frame_idx - 2) // stride) * stride - (frames_back - 2) * stride
            else:
                prev = -(-(frame_idx + 2) // stride) * stride + (frames_back - 2) * stride
            out = non_cond.get(prev, None)
            if out is None:
                # an unselected conditioning frame among the recent ones still counts
                out = unselected_cond.get(prev, None)
            if out is not None:
                pairs.append((t_pos, prev, out))
        return pairs

    def _object_pointer_tokens(
        self,
        frame_idx: int,
        output_dict: Mapping[str, Mapping[int, Any]],
        selected_cond: Mapping[int, Any],
        unselected_cond: Mapping[int, Any],
        num_frames: Optional[int],
        track_in_reverse: bool,
        batch: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """Object pointers of earlier frames and their temporal encodings, as memory tokens.

        Returns (tokens, pos) both P' x B x mem_dim, or None when there are no pointers.
        Each C-dim pointer is split into C / mem_dim tokens when mem_dim < C.
        """
        C = self.hidden_dim
        max_ptrs = self.max_obj_ptrs_in_encoder if num_frames is None else min(num_frames, self.max_obj_ptrs_in_encoder)
        if not self.training and self.only_obj_ptrs_in_the_past_for_eval:
            ptr_cond = {
                t: out for t, out in selected_cond.items()
                if (t >= frame_idx if track_in_reverse else t <= frame_idx)
            }
        else:
            ptr_cond = selected_cond
        sign = -1 if track_in_reverse else 1
        positions: List[int] = []
        pointers: List[torch.Tensor] = []
        for t, out in ptr_cond.items():
            positions.append((frame_idx - t) * sign if self.use_signed_tpos_enc_to_obj_ptrs else abs(frame_idx - t))
            pointers.append(out["obj_ptr"])
        non_cond = output_dict["non_cond_frame_outputs"]
        for t_diff in range(1, max_ptrs):
            t = frame_idx + t_diff if track_in_reverse else frame_idx - t_diff
            if t < 0 or (num_frames is not None and t >= num_frames):
                break
            out = non_cond.get(t, unselected_cond.get(t, None))
            if out is not None:
                positions.append(t_diff)
                pointers.append(out["obj_ptr"])
        if not pointers:
            return None

        tokens = torch.stack([p.to(device=device, dtype=dtype) for p in pointers], dim=0)  # P x B x C
        if self.add_tpos_enc_to_obj_ptrs:
            # normalised by the largest possible distance; guarded for 1-frame videos
            t_diff_max = max(max_ptrs - 1, 1)
            tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
            rel = torch.tensor(positions, device=device) / t_diff_max
            pos = self.obj_ptr_tpos_proj(get_1d_sine_pe(rel, dim=tpos_dim))
            pos = pos.unsqueeze(1).expand(-1, batch, self.mem_dim)
        else:
            pos = tokens.new_zeros(len(positions), batch, self.mem_dim)
        if self.mem_dim < C:
            split = C // self.mem_dim
            tokens = tokens.reshape(-1, batch, split, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            pos = pos.repeat_interleave(split, dim=0)
        return tokens, pos.to(dtype)

    def _prepare_memory_conditioned_features(
        self,
        frame_idx: int,
        is_init_cond_frame: bool,
        current_vision_feats: List[torch.Tensor],
        current_vision_pos_embeds: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        output_dict: Mapping[str, Mapping[int, Any]],
        num_frames: Optional[int],
        track_in_reverse: bool = False,
        memory_cache: Optional[ObjectMemoryCache] = None,
    ) -> torch.Tensor:
        """The current frame's top-level features fused with the memory bank, B x C x H x W.

        ``memory_cache``: where stored memories' projections and the frame's first
        self-attention are kept between calls (see ``sam2.modeling.memory_cache``); without
        one (and under autograd) everything is computed afresh, with the same numbers."""
        feats = current_vision_feats[-1]
        B = feats.size(1)
        size = feat_sizes[-1]
        device, dtype = feats.device, feats.dtype
        if self.num_maskmem == 0:  # memory disabled: plain SAM on each frame
            return _to_bchw(feats, size)

        if is_init_cond_frame:
            if self.directly_add_no_mem_embed:
                return _to_bchw(feats + self.no_mem_embed, size)
            memory = self.no_mem_embed.expand(1, B, self.mem_dim)
            memory_pos = self.no_mem_pos_enc.expand(1, B, self.mem_dim)
            num_ptr_tokens = 0
        else:
            cond_outputs = output_dict["cond_frame_outputs"]
            if len(cond_outputs) == 0:
                raise RuntimeError(
                    f"cannot track frame {frame_idx}: the object has no prompted (conditioning) frame"
                )
            selected, unselected = select_closest_cond_frames(frame_idx, cond_outputs, self.max_cond_frames_in_attn)
            reuse = memory_cache is not None and not self.training and not torch.is_grad_enabled()
            how = (device, dtype, self.memory_attention.norm.weight.dtype)
            parts: List[Tuple[MemoryFrameProjection, Optional[torch.Tensor]]] = []
            used: List[int] = []
            for t_pos, prev_idx, prev in self._memory_frames(frame_idx, output_dict, selected, unselected,
                                                             track_in_reverse):
                features, pos = prev["maskmem_features"], prev["maskmem_pos_enc"][-1]

                def project(features=features, pos=pos) -> MemoryFrameProjection:
                    # stored rounded to bfloat16 (possibly on the CPU); used in the compute dtype
                    return self.memory_attention.project(
                        to_sequence(features.to(device=device, dtype=dtype, non_blocking=True)),
                        to_sequence(pos.to(device=device, dtype=dtype)),
                    )

                projection = memory_cache.projection(prev_idx, features, pos, how, project) if reuse else project()
                parts.append((projection, self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1].flatten()))
                used.append(prev_idx)
            if reuse:
                memory_cache.retain(used)
            if self.use_obj_ptrs_in_encoder:
                pointers = self._object_pointer_tokens(
                    frame_idx, output_dict, selected, unselected, num_frames, track_in_reverse,
                    B, device, dtype,
                )
                if pointers is not None:
                    parts.append((self.memory_attention.project(*pointers, num_unrotated_tail=pointers[0].shape[0]),
                                  None))
            self_attended = None
            if reuse:
                self_attended = memory_cache.first_self_attention(
                    frame_idx, (B, device, dtype, self.memory_attention.norm.weight.dtype),
                    lambda: self.memory_attention.first_self_attention(current_vision_feats,
                                                                       current_vision_pos_embeds),
                )
            return _to_bchw(self.memory_attention(
                curr=current_vision_feats, curr_pos=current_vision_pos_embeds, parts=parts,
                self_attended=self_attended,
            ), size)

        fused = self.memory_attention(
            curr=current_vision_feats,
            curr_pos=current_vision_pos_embeds,
            memory=memory,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=num_ptr_tokens,
        )
        return _to_bchw(fused, size)

    # ------------------------------------------------------------------ memory encoding
    def _encode_new_memory(
        self,
        current_vision_feats: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        pred_masks_high_res: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Encode the frame and its (B x 1 x 1024 x 1024) mask logits into a memory."""
        pix_feat = _to_bchw(current_vision_feats[-1], feat_sizes[-1])
        if self.non_overlap_masks_for_mem_enc and not self.training:
            pred_masks_high_res = self._apply_non_overlapping_constraints(pred_masks_high_res)
        if self.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts and not self.training:
            mask_for_mem = (pred_masks_high_res > 0).float()
        else:
            mask_for_mem = torch.sigmoid(pred_masks_high_res)
        if self.sigmoid_scale_for_mem_enc != 1.0:
            mask_for_mem = mask_for_mem * self.sigmoid_scale_for_mem_enc
        if self.sigmoid_bias_for_mem_enc != 0.0:
            mask_for_mem = mask_for_mem + self.sigmoid_bias_for_mem_enc
        encoded = self.memory_encoder(pix_feat, mask_for_mem.to(pix_feat.dtype), skip_mask_sigmoid=True)
        features = encoded["vision_features"]
        pos_enc = encoded["vision_pos_enc"]
        if self.no_obj_embed_spatial is not None:
            # frames where the object is predicted absent get a learned "no object" offset
            absent = 1 - (object_score_logits > 0).to(features.dtype)
            features = features + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None].to(features.dtype)
        if self.spatial_perceiver is not None:
            # EdgeTAM: the memory is kept as B x 512 x C compressed tokens and their positions
            features, compressed_pos = self.spatial_perceiver(features, pos_enc[0])
            pos_enc = [compressed_pos]
        return features, pos_enc

    def _encode_memory_in_output(
        self,
        current_vision_feats: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        point_inputs: Optional[Dict[str, torch.Tensor]],
        run_mem_encoder: bool,
        high_res_masks: torch.Tensor,
        object_score_logits: torch.Tensor,
        current_out: FrameOutput,
    ) -> None:
        if run_mem_encoder and self.num_maskmem > 0:
            current_out.maskmem_features, current_out.maskmem_pos_enc = self._encode_new_memory(
                current_vision_feats=current_vision_feats,
                feat_sizes=feat_sizes,
                pred_masks_high_res=high_res_masks,
                object_score_logits=object_score_logits,
                is_mask_from_pts=point_inputs is not None,
            )
        else:
            current_out.maskmem_features = None
            current_out.maskmem_pos_enc = None

    # ------------------------------------------------------------------------ tracking
    def _track_step(
        self,
        frame_idx: int,
        is_init_cond_frame: bool,
        current_vision_feats: List[torch.Tensor],
        current_vision_pos_embeds: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        point_inputs: Optional[Dict[str, torch.Tensor]],
        mask_inputs: Optional[torch.Tensor],
        output_dict: Mapping[str, Mapping[int, Any]],
        num_frames: Optional[int],
        track_in_reverse: bool,
        prev_sam_mask_logits: Optional[torch.Tensor],
        memory_cache: Optional[ObjectMemoryCache] = None,
    ):
        current_out = FrameOutput(point_inputs=point_inputs, mask_inputs=mask_inputs)
        if len(current_vision_feats) > 1:
            high_res_features = [_to_bchw(x, s) for x, s in zip(current_vision_feats[:-1], feat_sizes[:-1])]
        else:
            high_res_features = None

        if mask_inputs is not None and self.use_mask_input_as_output_without_sam:
            # a mask prompt is taken as the output as is (as ground truth)
            pix_feat = current_vision_feats[-1].permute(1, 2, 0).view(-1, self.hidden_dim, *feat_sizes[-1])
            sam_outputs = self._use_mask_as_output(pix_feat, high_res_features, mask_inputs)
        else:
            pix_feat = self._prepare_memory_conditioned_features(
                frame_idx=frame_idx,
                is_init_cond_frame=is_init_cond_frame,
                current_vision_feats=current_vision_feats[-1:],
                current_vision_pos_embeds=current_vision_pos_embeds[-1:],
                feat_sizes=feat_sizes[-1:],
                output_dict=output_dict,
                num_frames=num_frames,
                track_in_reverse=track_in_reverse,
                memory_cache=memory_cache,
            )
            if prev_sam_mask_logits is not None:
                # correction clicks are decoded together with the previous mask logits
                if point_inputs is None or mask_inputs is not None:
                    raise ValueError("prev_sam_mask_logits goes with point inputs and no mask input")
                mask_inputs = prev_sam_mask_logits
            sam_outputs = self._forward_sam_heads(
                backbone_features=pix_feat,
                point_inputs=point_inputs,
                mask_inputs=mask_inputs,
                high_res_features=high_res_features,
                multimask_output=self._use_multimask(is_init_cond_frame, point_inputs),
            )
        return current_out, sam_outputs, high_res_features, pix_feat

    def track_step(
        self,
        frame_idx: int,
        is_init_cond_frame: bool,
        current_vision_feats: List[torch.Tensor],
        current_vision_pos_embeds: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        point_inputs: Optional[Dict[str, torch.Tensor]],
        mask_inputs: Optional[torch.Tensor],
        output_dict: Mapping[str, Mapping[int, Any]],
        num_frames: Optional[int],
        track_in_reverse: bool = False,
        run_mem_encoder: bool = True,
        prev_sam_mask_logits: Optional[torch.Tensor] = None,
        memory_cache: Optional[ObjectMemoryCache] = None,
    ) -> FrameOutput:
        """Track (or segment, on a prompted frame) the objects of one frame.

        ``run_mem_encoder=False`` skips encoding the result into a memory (done later, e.g.
        once the user has finished clicking on a frame). ``memory_cache``: what a session
        keeps between frames (``sam2.modeling.memory_cache``; not in the reference).
        """
        current_out, sam_outputs, _, _ = self._track_step(
            frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
            point_inputs, mask_inputs, output_dict, num_frames, track_in_reverse, prev_sam_mask_logits,
            memory_cache,
        )
        _, _, low_res_masks, high_res_masks, obj_ptr, object_score_logits = sam_outputs
        current_out.pred_masks = low_res_masks
        current_out.pred_masks_high_res = high_res_masks
        current_out.obj_ptr = obj_ptr
        current_out.object_score_logits = object_score_logits
        self._encode_memory_in_output(
            current_vision_feats, feat_sizes, point_inputs, run_mem_encoder, high_res_masks,
            object_score_logits, current_out,
        )
        return current_out

    def _use_multimask(self, is_init_cond_frame: bool, point_inputs: Optional[Dict[str, torch.Tensor]]) -> bool:
        """Three candidate masks for ambiguous prompts (few clicks), one otherwise."""
        num_pts = 0 if point_inputs is None else point_inputs["point_labels"].size(1)
        return bool(
            self.multimask_output_in_sam
            and (is_init_cond_frame or self.multimask_output_for_tracking)
            and self.multimask_min_pt_num <= num_pts <= self.multimask_max_pt_num
        )

    def _apply_non_overlapping_constraints(self, pred_masks: torch.Tensor) -> torch.Tensor:
        """Where objects overlap keep the highest-scoring one; push the others to <= -10."""
        if pred_masks.size(0) == 1:
            return pred_masks
        winner = torch.argmax(pred_masks, dim=0, keepdim=True)
        index = torch.arange(pred_masks.size(0), device=pred_masks.device)[:, None, None, None]
        return torch.where(winner == index, pred_masks, torch.clamp(pred_masks, max=-10.0))
