"""Memory attention: condition the current frame's features on memories of past frames.

Each layer runs (1) self-attention over the frame's 64x64 tokens, (2) cross-attention from
those tokens to the memory bank (spatial memories of earlier frames followed by object
pointer tokens) and (3) an MLP, every sub-block pre-normalised and residual.

Both attentions use 2-D axial rotary position encoding (RoPE) on queries and keys. Memory
tokens are laid out as whole frames one after another, so the key rotation is the query
rotation tiled once per memory frame ("rope_k_repeat"). Object pointer tokens, appended at
the end of the memory, have no spatial position and are left unrotated.

EdgeTAM's memories are compressed (see ``sam2.modeling.perceiver``): a memory frame is a
run of tokens without position (global latents, unrotated) followed by a small grid (16 x
16 local latents) whose keys are rotated with that grid's own RoPE, while the queries keep
the 64 x 64 rotation ("memory_grid" in ``MemoryAttentionConfig``).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import MemoryAttentionConfig
from sam2.modeling.common import add_into_branch, attention, attention_is_blocked, linear_activation
from sam2.modeling.memory_cache import MemoryFrameProjection

# ----------------------------------------------------------------------------- RoPE helpers


def axial_rope_frequencies(
    head_dim: int, width: int, height: int, theta: float = 10000.0
) -> torch.Tensor:
    """Unit complex rotations for a ``width x height`` token grid (row-major), (W*H) x head_dim/2.

    The first half of the channel pairs rotates with the column index, the second half with
    the row index; both halves share the frequencies ``theta ** (-4k / head_dim)``.
    """
    if head_dim % 4:
        raise ValueError(f"axial RoPE needs a head dimension divisible by 4, got {head_dim}")
    exponents = torch.arange(0, head_dim, 4)[: head_dim // 4].float() / head_dim
    freqs = 1.0 / (theta**exponents)
    index = torch.arange(width * height, dtype=torch.float32)
    cols = index % width
    rows = torch.div(index, width, rounding_mode="floor")
    angles_x = torch.outer(cols, freqs)
    angles_y = torch.outer(rows, freqs)
    rot_x = torch.polar(torch.ones_like(angles_x), angles_x)
    rot_y = torch.polar(torch.ones_like(angles_y), angles_y)
    return torch.cat([rot_x, rot_y], dim=-1)


def _rotate(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of ``x`` (B x heads x N x D) by ``rotations``.

    ``rotations`` is N x D/2 complex, or N x D/2 x 2 real (cos, sin) on devices without
    complex support (Apple MPS). Computed in float32 whatever the input dtype, then cast back.
    """
    if rotations.is_complex():
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        return torch.view_as_real(pairs * rotations).flatten(-2).to(x.dtype)
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    c, s = rotations[..., 0], rotations[..., 1]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2).to(x.dtype)


def apply_axial_rope(
    q: torch.Tensor,
    k: torch.Tensor,
    rotations: torch.Tensor,
    repeat_for_keys: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rotate queries and keys (both B x heads x N x D).

    With ``repeat_for_keys`` the key sequence is a whole number of query-sized grids (one per
    memory frame) and each grid gets the same rotations as the queries.
    """
    return _rotate(q, rotations), _rotate_keys(k, rotations, repeat_for_keys)


def _rotate_keys(k: torch.Tensor, rotations: torch.Tensor, repeat_for_keys: bool) -> torch.Tensor:
    if k.shape[-2] == 0:
        return k
    if k.shape[-2] != rotations.shape[0]:
        if not repeat_for_keys:
            raise ValueError(
                f"RoPE keys ({k.shape[-2]} tokens) differ from queries ({rotations.shape[0]}) "
                "and rope_k_repeat is off"
            )
        repeats, rest = divmod(k.shape[-2], rotations.shape[0])
        if rest:
            raise ValueError(
                f"RoPE keys ({k.shape[-2]} tokens) are not a whole number of query grids "
                f"({rotations.shape[0]} tokens)"
            )
        rotations = rotations.repeat(repeats, *([1] * (rotations.dim() - 1)))
    return _rotate(k, rotations)


def _rotations_on(rot: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rotations moved to ``device``; on Apple MPS (no complex tensors) as (cos, sin) pairs."""
    if rot.device == device:
        return rot
    if device.type == "mps":
        rot = torch.view_as_real(rot) if rot.is_complex() else rot
    return rot.to(device)


# ----------------------------------------------------------------------------- attention


class RoPEAttention(nn.Module):
    """Multi-head attention with axial RoPE on queries and keys.

    Keys and values may come from a different width (``kv_in_dim``, the 64-channel memory).
    Parameter names (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``) follow the official
    checkpoints.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        kv_in_dim: Optional[int] = None,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
        feat_sizes: Sequence[int] = (64, 64),
        dropout: float = 0.0,
        key_grid: Optional[Sequence[int]] = None,
        key_unrotated: int = 0,
    ) -> None:
        super().__init__()
        if embedding_dim % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide embedding_dim ({embedding_dim})")
        kv_in_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim
        self.num_heads = num_heads
        self.kv_in_dim = kv_in_dim
        self.q_proj = nn.Linear(embedding_dim, embedding_dim)
        self.k_proj = nn.Linear(kv_in_dim, embedding_dim)
        self.v_proj = nn.Linear(kv_in_dim, embedding_dim)
        self.out_proj = nn.Linear(embedding_dim, embedding_dim)
        self.rope_theta = rope_theta
        self.rope_k_repeat = rope_k_repeat
        self.dropout_p = dropout
        self.head_dim = embedding_dim // num_heads
        # float32 (exact) or bfloat16 (fast mode, see SAM2Base.set_compute_dtype)
        self.attention_dtype = torch.float32
        # Rotations are a pure function of the grid; kept off the state dict, cached per size.
        self._rotations = axial_rope_frequencies(self.head_dim, feat_sizes[0], feat_sizes[1], rope_theta)
        # Compressed memories: each memory frame is ``key_unrotated`` tokens, then a
        # ``key_grid`` grid rotated with that grid's RoPE (None: key grids match queries).
        self.key_unrotated = key_unrotated
        self._key_rotations = (
            axial_rope_frequencies(self.head_dim, key_grid[0], key_grid[1], rope_theta) if key_grid else None
        )

    @property
    def compressed_keys(self) -> bool:
        return self._key_rotations is not None

    def _memory_key_rotations(self, device: torch.device) -> torch.Tensor:
        self._key_rotations = _rotations_on(self._key_rotations, device)
        return self._key_rotations

    def _rotate_compressed(self, k: torch.Tensor) -> torch.Tensor:
        """Rotate keys (B x heads x N x D) made of whole compressed memory frames: in each,
        the first ``key_unrotated`` tokens stay as they are, the grid tokens are rotated."""
        rotations = self._memory_key_rotations(k.device)
        per_frame = self.key_unrotated + rotations.shape[0]
        frames, rest = divmod(k.shape[-2], per_frame)
        if rest:
            raise ValueError(
                f"compressed memory keys ({k.shape[-2]} tokens) are not a whole number of "
                f"{per_frame}-token memory frames"
            )
        b, h, _, d = k.shape
        k = k.reshape(b, h, frames, per_frame, d)
        rotated = _rotate(k[..., self.key_unrotated:, :], rotations)
        return torch.cat([k[..., : self.key_unrotated, :], rotated], dim=-2).reshape(b, h, frames * per_frame, d)

    def _rotations_for(self, num_tokens: int, device: torch.device) -> torch.Tensor:
        rot = self._rotations
        if rot.shape[0] != num_tokens:
            side = math.isqrt(num_tokens)
            if side * side != num_tokens:
                raise ValueError(f"RoPE attention expects a square token grid, got {num_tokens} tokens")
            rot = axial_rope_frequencies(self.head_dim, side, side, self.rope_theta)
        self._rotations = _rotations_on(rot, device)
        return self._rotations

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def folds_values(self, device: torch.device) -> bool:
        """Whether the value projection follows the attention instead of preceding it.

        Values carry no rotation, so sum_j p_j (W x_j + b) = W (sum_j p_j x_j) + b. With
        64-channel memories and one head the probabilities then multiply 64 channels instead
        of 256: the second GEMM of the cross-attention (4096 x 28,736 x 256 for 7 memories) is
        4x cheaper. Only where attention is computed as GEMMs: PyTorch's fused CPU kernel gets
        slower with it.
        """
        return (not self.training and self.num_heads * self.kv_in_dim < self.internal_dim
                and attention_is_blocked(device, self.attention_dtype))

    def project_keys(
        self, k: torch.Tensor, num_k_exclude_rope: int = 0, grid_tokens: Optional[int] = None
    ) -> torch.Tensor:
        """Keys (B x N x C_kv) projected to heads and rotated, B x heads x N x head_dim.

        The rotated keys form whole grids of ``grid_tokens`` (default: one grid of all of
        them; more than one needs ``rope_k_repeat``); the last ``num_k_exclude_rope`` keys
        (object pointers) stay unrotated.
        """
        k = self._heads(self.k_proj(k))
        num_rope = k.shape[-2] - num_k_exclude_rope
        if num_rope == 0:
            return k
        if self.compressed_keys:
            rotated = self._rotate_compressed(k[:, :, :num_rope])
        else:
            rotations = self._rotations_for(grid_tokens or num_rope, k.device)
            rotated = _rotate_keys(k[:, :, :num_rope], rotations, self.rope_k_repeat)
        return torch.cat([rotated, k[:, :, num_rope:]], dim=-2) if num_k_exclude_rope > 0 else rotated

    def project_values(self, v: torch.Tensor) -> torch.Tensor:
        """Values (B x N x C_kv) as the attention takes them: projected to heads, or left in
        the input width when ``folds_values`` (one copy per head, a view)."""
        if self.folds_values(v.device):
            return v.unsqueeze(1).expand(-1, self.num_heads, -1, -1)
        return self._heads(self.v_proj(v))

    def key_offset(self, kv_offset: torch.Tensor, num_tokens: int) -> torch.Tensor:
        """What adding the same vector ``kv_offset`` (C_kv) to every key input of one
        ``num_tokens`` grid adds to the projected, rotated keys: 1 x heads x N x head_dim.

        Projection and rotation are linear, so keys of (x + offset) are keys of x plus this;
        the tracker adds memory frames' temporal encodings this way, to keys it projected
        once per stored frame.
        """
        projected = F.linear(kv_offset.to(self.k_proj.weight.dtype), self.k_proj.weight)
        grid = projected.view(1, self.num_heads, 1, self.head_dim).expand(-1, -1, num_tokens, -1)
        if self.compressed_keys:
            return self._rotate_compressed(grid)
        return _rotate(grid, self._rotations_for(num_tokens, kv_offset.device))

    def attend(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Attention of queries ``q`` (B x N x C) to keys and values already prepared by
        ``project_keys`` and ``project_values``; returns B x N x C."""
        if keys.shape[-2] != values.shape[-2]:
            raise ValueError(f"{keys.shape[-2]} keys but {values.shape[-2]} values")
        q = self._heads(self.q_proj(q))
        q = _rotate(q, self._rotations_for(q.shape[-2], q.device))
        dropout_p = self.dropout_p if self.training else 0.0
        out = attention(q, keys, values, self.attention_dtype, dropout_p=dropout_p)
        if self.folds_values(q.device):  # per head: (B x N x C_kv) @ (C_kv x d) + b
            w = self.v_proj.weight.view(self.num_heads, self.head_dim, self.kv_in_dim)
            out = torch.matmul(out, w.transpose(1, 2)) + self.v_proj.bias.view(self.num_heads, 1, self.head_dim)
        b, h, n, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * d))

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0
    ) -> torch.Tensor:
        """Batch-first inputs (B x N x C); the last ``num_k_exclude_rope`` keys stay unrotated."""
        if q.shape[-2] != k.shape[-2] - num_k_exclude_rope and not self.rope_k_repeat:
            raise ValueError("query and key lengths differ but rope_k_repeat is off")
        keys = self.project_keys(k, num_k_exclude_rope, grid_tokens=q.shape[-2])
        return self.attend(q, keys, self.project_values(v))


# ----------------------------------------------------------------------------- layers


class MemoryAttentionLayer(nn.Module):
    """Pre-norm self-attention, cross-attention to memory, and a ReLU MLP, each residual."""

    def __init__(self, cfg: MemoryAttentionConfig, dropout: float = 0.1) -> None:
        super().__init__()
        d = cfg.d_model
        self.d_model = d
        self.dim_feedforward = cfg.dim_feedforward
        self.self_attn = RoPEAttention(
            d, cfg.num_heads, rope_theta=cfg.rope_theta, feat_sizes=cfg.feat_sizes, dropout=dropout
        )
        self.cross_attn_image = RoPEAttention(
            d, cfg.num_heads, kv_in_dim=cfg.kv_in_dim, rope_theta=cfg.rope_theta,
            rope_k_repeat=True, feat_sizes=cfg.feat_sizes, dropout=dropout,
            key_grid=cfg.memory_grid, key_unrotated=cfg.memory_unrotated_tokens,
        )
        self.linear1 = nn.Linear(d, cfg.dim_feedforward)
        self.linear2 = nn.Linear(cfg.dim_feedforward, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.activation = nn.ReLU()
        self.dropout_p = dropout
        self.pos_enc_at_attn = cfg.pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = cfg.pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = cfg.pos_enc_at_cross_attn_keys

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.dropout_p, self.training) if self.dropout_p > 0 else x

    def forward(
        self,
        tgt: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        query_pos: Optional[torch.Tensor] = None,
        self_attended: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The layer, its cross-attention's keys and values prepared by
        ``cross_attn_image.project_keys`` / ``project_values`` (``MemoryAttention`` does it).
        ``self_attended``: what ``attend_to_self(tgt, query_pos)`` gives, when the caller
        already has it."""
        tgt = self.attend_to_self(tgt, query_pos) if self_attended is None else self_attended

        x = self.norm2(tgt)
        q = x + query_pos if self.pos_enc_at_cross_attn_queries and query_pos is not None else x
        tgt = add_into_branch(self._drop(self.cross_attn_image.attend(q, keys, values)), tgt, self.training)

        x = self.norm3(tgt)
        x = self.linear2(self._drop(linear_activation(self.linear1, self.activation, x)))
        return add_into_branch(self._drop(x), tgt, self.training)

    def key_inputs(self, memory: torch.Tensor, pos: Optional[torch.Tensor]) -> torch.Tensor:
        return memory + pos if self.pos_enc_at_cross_attn_keys and pos is not None else memory

    def attend_to_self(self, tgt: torch.Tensor, query_pos: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The first sub-block (self-attention over the frame, residual). It sees only the
        frame, no memory: in the first layer it is the same for every tracked object."""
        x = self.norm1(tgt)
        qk = x + query_pos if self.pos_enc_at_attn and query_pos is not None else x
        return add_into_branch(self._drop(self.self_attn(qk, qk, v=x)), tgt, self.training)


def _batch_first(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A sequence-first N x B x C tensor as a contiguous B x N x C one in ``dtype`` (one copy)."""
    return x.transpose(0, 1).to(dtype, memory_format=torch.contiguous_format)


# A run of memory tokens with its prepared keys and values, and the temporal encoding (a
# C_mem vector added to its key inputs) of the frame it belongs to, or None.
MemoryPart = Tuple[MemoryFrameProjection, Optional[torch.Tensor]]


class MemoryAttention(nn.Module):
    """A stack of ``MemoryAttentionLayer`` and a final LayerNorm.

    Inputs and output are sequence-first (tokens x batch x channels), as the tracker keeps
    its features; the layers work batch-first internally.
    """

    def __init__(self, cfg: MemoryAttentionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.d_model = cfg.d_model
        self.num_layers = cfg.num_layers
        self.pos_enc_at_input = cfg.pos_enc_at_input
        self.layers = nn.ModuleList(MemoryAttentionLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(
        self,
        curr: Union[torch.Tensor, List[torch.Tensor]],
        memory: Optional[torch.Tensor] = None,
        curr_pos: Optional[Union[torch.Tensor, List[torch.Tensor]]] = None,
        memory_pos: Optional[torch.Tensor] = None,
        num_obj_ptr_tokens: int = 0,
        *,
        parts: Optional[Sequence[MemoryPart]] = None,
        self_attended: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Condition ``curr`` (HW x B x C) on a memory.

        Either ``memory`` (M x B x C_mem) and ``memory_pos``, as the reference takes them (the
        last ``num_obj_ptr_tokens`` tokens are object pointers, excluded from RoPE), which are
        projected here; or ``parts`` already projected (``project``), e.g. stored frames
        projected once and kept by the tracker (``sam2.modeling.memory_cache``), each with its
        temporal encoding. ``self_attended``: what ``first_self_attention`` gives for
        ``curr``, when the caller kept it.
        """
        if parts is None:
            if memory is None:
                raise ValueError("the memory attention needs a memory or projected memory parts")
            output, query_pos = self._queries(curr, curr_pos, memory.shape[1])
            parts = [(self.project(memory, memory_pos, num_obj_ptr_tokens, grid_tokens=output.shape[1]), None)]
        elif not parts:
            raise ValueError("the memory attention needs at least one memory frame or pointer")
        else:
            output, query_pos = self._queries(curr, curr_pos, parts[0][0].keys[0].shape[0],
                                              need_output=self_attended is None)
        for i, layer in enumerate(self.layers):
            attn = layer.cross_attn_image
            keys = _concat_keys(attn, [(p.keys[i], t if layer.pos_enc_at_cross_attn_keys else None) for p, t in parts])
            values = parts[0][0].values[i] if len(parts) == 1 else torch.cat([p.values[i] for p, _ in parts], dim=-2)
            output = layer(output, keys, values, query_pos, self_attended if i == 0 else None)
        return self._finish(output, curr)

    def project(
        self,
        memory: torch.Tensor,
        memory_pos: Optional[torch.Tensor],
        num_unrotated_tail: int = 0,
        grid_tokens: Optional[int] = None,
    ) -> MemoryFrameProjection:
        """Every layer's keys and values for memory tokens (M x B x C_mem) and their position
        encoding (same shape): a stored frame (its spatial encoding, without the temporal
        one), object pointers (``num_unrotated_tail`` = all of them) or a whole concatenated
        memory whose spatial grids have ``grid_tokens`` tokens each."""
        dtype = self.norm.weight.dtype
        memory = memory.to(dtype).transpose(0, 1)
        memory_pos = memory_pos.to(dtype).transpose(0, 1) if memory_pos is not None else None
        keys, values = [], []
        for layer in self.layers:
            attn = layer.cross_attn_image
            keys.append(attn.project_keys(layer.key_inputs(memory, memory_pos), num_unrotated_tail, grid_tokens))
            values.append(attn.project_values(memory))
        return MemoryFrameProjection(keys, values)

    def first_self_attention(
        self,
        curr: Union[torch.Tensor, List[torch.Tensor]],
        curr_pos: Optional[Union[torch.Tensor, List[torch.Tensor]]] = None,
    ) -> torch.Tensor:
        """The first layer's self-attention on ``curr``: it depends on the frame only, so a
        caller tracking several objects on one frame can compute it once and pass it to
        ``forward`` as ``self_attended``."""
        output, query_pos = self._queries(curr, curr_pos, None)
        return self.layers[0].attend_to_self(output, query_pos)

    def _queries(
        self,
        curr: Union[torch.Tensor, List[torch.Tensor]],
        curr_pos: Optional[Union[torch.Tensor, List[torch.Tensor]]],
        memory_batch: Optional[int],
        need_output: bool = True,
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The current features (None unless ``need_output``) and their position encoding,
        batch-first, contiguous and in the module's dtype (it may run in bfloat16, see
        SAM2Base.set_compute_dtype).

        The tracker's features are often channel-major views (HW x B x C over a C x HW
        map); on such a view every LayerNorm, residual add and projection of the stack
        would copy it or walk it with a 4096-element stride, so each input is brought to
        batch-first in one copy that also changes its dtype."""
        if isinstance(curr, (list, tuple)):
            if len(curr) != 1:
                raise ValueError("MemoryAttention takes a single feature level")
            curr = curr[0]
        if isinstance(curr_pos, (list, tuple)):
            if len(curr_pos) != 1:
                raise ValueError("MemoryAttention takes a single feature level")
            curr_pos = curr_pos[0]
        if memory_batch is not None and curr.shape[1] != memory_batch:
            raise ValueError(
                f"batch size differs between current features ({curr.shape[1]}) and memory "
                f"({memory_batch})"
            )
        dtype = self.norm.weight.dtype
        output = None
        if need_output:
            output = curr
            if self.pos_enc_at_input and curr_pos is not None:
                output = output.to(dtype) + 0.1 * curr_pos.to(dtype)
            output = _batch_first(output, dtype)
        query_pos = _batch_first(curr_pos, dtype) if curr_pos is not None else None
        return output, query_pos

    def _finish(self, output: torch.Tensor, curr: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        out_dtype = (curr[0] if isinstance(curr, (list, tuple)) else curr).dtype
        return self.norm(output).transpose(0, 1).to(out_dtype)


def _concat_keys(attn: RoPEAttention, parts: Sequence[Tuple[torch.Tensor, Optional[torch.Tensor]]]) -> torch.Tensor:
    """Concatenate per-frame keys along the token axis, adding each frame's temporal offset
    (``attn.key_offset``) on the way, in one pass over the keys (a plain concatenation where
    autograd records, which cannot write into a preallocated output)."""
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0]
    if torch.is_grad_enabled():
        return torch.cat([k if t is None else k + attn.key_offset(t, k.shape[-2]) for k, t in parts], dim=-2)
    first = parts[0][0]
    total = sum(k.shape[-2] for k, _ in parts)
    out = first.new_empty(first.shape[0], first.shape[1], total, first.shape[-1])
    start = 0
    for keys, tpos in parts:
        dst = out[:, :, start:start + keys.shape[-2]]
        if tpos is None:
            dst.copy_(keys)
        else:
            torch.add(keys, attn.key_offset(tpos, keys.shape[-2]), out=dst)
        start += keys.shape[-2]
    return out
