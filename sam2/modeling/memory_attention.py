"""Memory attention: condition the current frame's features on memories of past frames.

Each layer runs (1) self-attention over the frame's 64x64 tokens, (2) cross-attention from
those tokens to the memory bank (spatial memories of earlier frames followed by object
pointer tokens) and (3) an MLP, every sub-block pre-normalised and residual.

Both attentions use 2-D axial rotary position encoding (RoPE) on queries and keys. Memory
tokens are laid out as whole frames one after another, so the key rotation is the query
rotation tiled once per memory frame ("rope_k_repeat"). Object pointer tokens, appended at
the end of the memory, have no spatial position and are left unrotated.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from sam2.configs import MemoryAttentionConfig
from sam2.modeling.common import attention, attention_is_blocked

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
    q_out = _rotate(q, rotations)
    if k.shape[-2] == 0:
        return q_out, k
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
    return q_out, _rotate(k, rotations)


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

    def _rotations_for(self, num_tokens: int, device: torch.device) -> torch.Tensor:
        rot = self._rotations
        if rot.shape[0] != num_tokens:
            side = math.isqrt(num_tokens)
            if side * side != num_tokens:
                raise ValueError(f"RoPE attention expects a square token grid, got {num_tokens} tokens")
            rot = axial_rope_frequencies(self.head_dim, side, side, self.rope_theta)
        if rot.device != device:
            if device.type == "mps":  # no complex tensors there: keep (cos, sin) pairs
                rot = torch.view_as_real(rot) if rot.is_complex() else rot
            rot = rot.to(device)
        self._rotations = rot
        return rot

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0
    ) -> torch.Tensor:
        """Batch-first inputs (B x N x C); the last ``num_k_exclude_rope`` keys stay unrotated."""
        q = self._heads(self.q_proj(q))
        k = self._heads(self.k_proj(k))
        # Values carry no rotation, so their projection can follow the attention instead of
        # preceding it: sum_j p_j (W x_j + b) = W (sum_j p_j x_j) + b. With 64-channel memories
        # and one head, the probabilities then multiply 64 channels instead of 256: the
        # second GEMM of the cross-attention (4096 x 28,736 x 256 for 7 memories) is 4x cheaper.
        # Only where attention is computed as GEMMs: PyTorch's fused CPU kernel gets slower.
        fold_values = (not self.training and self.num_heads * self.kv_in_dim < self.internal_dim
                       and attention_is_blocked(q.device, self.attention_dtype))
        v = v.unsqueeze(1).expand(-1, self.num_heads, -1, -1) if fold_values else self._heads(self.v_proj(v))

        rotations = self._rotations_for(q.shape[-2], q.device)
        if q.shape[-2] != k.shape[-2] and not self.rope_k_repeat:
            raise ValueError("query and key lengths differ but rope_k_repeat is off")
        num_rope = k.shape[-2] - num_k_exclude_rope
        q, k_rope = apply_axial_rope(q, k[:, :, :num_rope], rotations, self.rope_k_repeat)
        k = torch.cat([k_rope, k[:, :, num_rope:]], dim=-2) if num_k_exclude_rope > 0 else k_rope

        dropout_p = self.dropout_p if self.training else 0.0
        out = attention(q, k, v, self.attention_dtype, dropout_p=dropout_p)
        if fold_values:  # per head: (B x N x C_kv) @ (C_kv x d) + b
            w = self.v_proj.weight.view(self.num_heads, self.head_dim, self.kv_in_dim)
            out = torch.matmul(out, w.transpose(1, 2)) + self.v_proj.bias.view(self.num_heads, 1, self.head_dim)
        b, h, n, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * d))


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
        )
        self.linear1 = nn.Linear(d, cfg.dim_feedforward)
        self.linear2 = nn.Linear(cfg.dim_feedforward, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.dropout_p = dropout
        self.pos_enc_at_attn = cfg.pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = cfg.pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = cfg.pos_enc_at_cross_attn_keys

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.dropout_p, self.training) if self.dropout_p > 0 else x

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        pos: Optional[torch.Tensor] = None,
        query_pos: Optional[torch.Tensor] = None,
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        x = self.norm1(tgt)
        qk = x + query_pos if self.pos_enc_at_attn and query_pos is not None else x
        tgt = tgt + self._drop(self.self_attn(qk, qk, v=x))

        x = self.norm2(tgt)
        tgt = tgt + self._drop(
            self.cross_attn_image(
                q=x + query_pos if self.pos_enc_at_cross_attn_queries and query_pos is not None else x,
                k=memory + pos if self.pos_enc_at_cross_attn_keys and pos is not None else memory,
                v=memory,
                num_k_exclude_rope=num_k_exclude_rope,
            )
        )

        x = self.norm3(tgt)
        x = self.linear2(self._drop(F.relu(self.linear1(x))))
        return tgt + self._drop(x)


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
        memory: torch.Tensor,
        curr_pos: Optional[Union[torch.Tensor, List[torch.Tensor]]] = None,
        memory_pos: Optional[torch.Tensor] = None,
        num_obj_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        """Condition ``curr`` (HW x B x C) on ``memory`` (M x B x C_mem).

        The last ``num_obj_ptr_tokens`` memory tokens are object pointers, excluded from RoPE.
        """
        if isinstance(curr, (list, tuple)):
            if len(curr) != 1:
                raise ValueError("MemoryAttention takes a single feature level")
            curr = curr[0]
        if isinstance(curr_pos, (list, tuple)):
            if len(curr_pos) != 1:
                raise ValueError("MemoryAttention takes a single feature level")
            curr_pos = curr_pos[0]
        if curr.shape[1] != memory.shape[1]:
            raise ValueError(
                f"batch size differs between current features ({curr.shape[1]}) and memory "
                f"({memory.shape[1]})"
            )

        out_dtype = curr.dtype
        dtype = self.norm.weight.dtype  # the module may run in bfloat16 (fast precision)
        curr, memory = curr.to(dtype), memory.to(dtype)
        curr_pos = curr_pos.to(dtype) if curr_pos is not None else None
        memory_pos = memory_pos.to(dtype) if memory_pos is not None else None

        output = curr
        if self.pos_enc_at_input and curr_pos is not None:
            output = output + 0.1 * curr_pos

        output = output.transpose(0, 1)
        query_pos = curr_pos.transpose(0, 1) if curr_pos is not None else None
        memory = memory.transpose(0, 1)
        memory_pos = memory_pos.transpose(0, 1) if memory_pos is not None else None

        for layer in self.layers:
            output = layer(output, memory, pos=memory_pos, query_pos=query_pos,
                           num_k_exclude_rope=num_obj_ptr_tokens)
        return self.norm(output).transpose(0, 1).to(out_dtype)
