"""Attention and SAM's two-way transformer (prompt tokens <-> image tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam2.modeling.common import MLP


def _bmm(a: Tensor, b: Tensor) -> Tensor:
    """a @ b for 3-D operands. With batch 1 it runs as a 2-D GEMM, which, unlike a batched
    one, takes transposed bfloat16 operands on the CPU without first copying them."""
    if a.shape[0] == 1 and b.shape[0] == 1:
        return (a[0] @ b[0]).unsqueeze(0)
    return a @ b


class Attention(nn.Module):
    """Multi-head attention with optional down-projection of the internal width.

    ``downsample_rate`` shrinks q/k/v to ``embedding_dim // downsample_rate`` channels
    (cheaper cross-attention to the 4096 image tokens); ``kv_in_dim`` lets keys and values
    come from a narrower source (the 64-channel memories).

    In SAM's decoder one side of every cross-attention is a handful of prompt tokens and
    the other the 4096 image tokens. Projecting the image side costs 4096 x C x D
    multiply-adds per projection; when heads x tokens < D it is cheaper to move the
    projection onto the small side instead (fold it into the tokens' queries or keys, see
    ``attend_few_queries`` / ``attend_few_keys``). The result is the same function, up to
    float32 rounding, for about half the work of the decoder's transformer.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.kv_in_dim = kv_in_dim if kv_in_dim is not None else embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ValueError("num_heads must divide the attention width")
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)
        self.dropout_p = dropout
        self.matmul_dtype = torch.float32

    @property
    def head_dim(self) -> int:
        return self.internal_dim // self.num_heads

    def split_heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    @staticmethod
    def merge_heads(x: Tensor) -> Tensor:
        b, h, n, c = x.shape
        return x.transpose(1, 2).reshape(b, n, h * c)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Scaled dot-product attention on head-split tensors (B x heads x N x C)."""
        dropout = self.dropout_p if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if not self.training:
            if self._folding_pays(few=q.shape[1], many=k.shape[1]):
                return self.attend_few_queries(q, k, v)
            if self._folding_pays(few=k.shape[1], many=q.shape[1]):
                return self.attend_few_keys(q, k, v)
        q = self.split_heads(self.q_proj(q))
        k = self.split_heads(self.k_proj(k))
        v = self.split_heads(self.v_proj(v))
        return self.out_proj(self.merge_heads(self.attend(q, k, v)))

    def _folding_pays(self, few: int, many: int) -> bool:
        return few * self.num_heads < self.internal_dim and many > self.internal_dim

    def _many(self, x: Tensor) -> Tensor:
        """The many side of a folded product, in the matmul dtype."""
        return x if x.dtype == self.matmul_dtype else x.to(self.matmul_dtype)

    def _head_weights(self, proj: nn.Linear) -> Tensor:
        """A q/k/v projection's weight as heads x head_dim x input channels."""
        weight = proj.weight  # read once: an int8 layer dequantises it on every read
        return weight.view(self.num_heads, self.head_dim, weight.shape[1])

    def attend_few_queries(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Few queries (B x M x C), many keys/values (B x N x C_kv), no key/value projection.

        Per head, q_h . (W_k x + b_k) = (q_h W_k) . x + q_h . b_k; the last term is the
        same for every key and cancels in the softmax. And since attention rows sum to
        one, sum_j p_j (W_v x_j + b_v) = W_v (sum_j p_j x_j) + b_v.
        """
        b, m, _ = q.shape
        heads, c_kv = self.num_heads, k.shape[-1]
        qh = self.split_heads(self.q_proj(q)) * self.head_dim ** -0.5  # B x H x M x d
        q_in_key_space = (qh @ self._head_weights(self.k_proj)).reshape(b, heads * m, c_kv)
        scores = _bmm(self._many(q_in_key_space), self._many(k).transpose(1, 2))  # B x HM x N
        probs = scores.softmax(dim=-1, dtype=torch.float32)
        mixed = _bmm(self._many(probs), self._many(v)).float().view(b, heads, m, c_kv)  # weighted raw values
        out = mixed @ self._head_weights(self.v_proj).transpose(1, 2)  # B x H x M x d
        out = out + self.v_proj.bias.view(heads, 1, self.head_dim)
        return self.out_proj(self.merge_heads(out))

    def attend_few_keys(self, q: Optional[Tensor], k: Tensor, v: Tensor,
                         q_heads: Optional[Tensor] = None) -> Tensor:
        """Many queries (B x N x C), few keys/values (B x M x C), no query/output projection
        of the many side.

        Scores: (W_q x + b_q) . k_h = x . (W_q^T k_h) + b_q . k_h. Output: each head's values
        are out-projected before mixing: W_o [sum_m p_m v_m] = sum_m p_m (W_o v_m).
        ``q_heads`` (1 x H x N x d): the many side's query projection, when already computed
        (``q`` is then not read).
        """
        b, m, _ = k.shape
        heads, d = self.num_heads, self.head_dim
        scale = d ** -0.5
        kh = self.split_heads(self.k_proj(k))  # B x H x M x d
        vh = self.split_heads(self.v_proj(v))
        # scores are laid out B x H x M x N so that the softmax runs over the M axis with
        # the long N axis innermost (a softmax over a last axis of ~8 is ~20x slower)
        if q_heads is None:
            k_in_query_space = (kh @ self._head_weights(self.q_proj)) * scale  # B x H x M x C
            bias = (kh @ self.q_proj.bias.view(heads, d, 1)) * scale  # B x H x M x 1
            scores = _bmm(self._many(k_in_query_space.reshape(b, heads * m, -1)), self._many(q).transpose(1, 2))
            scores = scores.view(b, heads, m, -1) + bias
        else:  # (H x BM x d) @ (H x d x N): every prompt's keys against the shared queries
            keys = kh.transpose(0, 1).reshape(heads, b * m, d)
            scores = (keys @ q_heads[0].transpose(1, 2)).view(heads, b, m, -1).transpose(0, 1) * scale
        probs = scores.softmax(dim=2, dtype=torch.float32).reshape(b, heads * m, -1)  # B x HM x N
        w_out = self.out_proj.weight.view(-1, heads, d).permute(1, 2, 0)  # H x d x C_out
        v_out = (vh @ w_out).reshape(b, heads * m, -1)  # values already out-projected
        # (adding the float32 bias also brings a bfloat16 product back to float32)
        return _bmm(self._many(probs).transpose(1, 2), self._many(v_out)) + self.out_proj.bias

    def attend_projected_image(self, q: Tensor, k_heads: Tensor, v_heads: Tensor) -> Tensor:
        """Tokens (B x M x C) read image keys/values projected beforehand (1 x H x N x d each)."""
        b, m, _ = q.shape
        heads, d = self.num_heads, self.head_dim
        qh = self.split_heads(self.q_proj(q)) * d ** -0.5  # B x H x M x d
        rows = qh.transpose(0, 1).reshape(heads, b * m, d)  # every prompt's queries share the keys
        probs = (rows @ k_heads[0].transpose(1, 2)).softmax(dim=-1)  # H x BM x N
        out = (probs @ v_heads[0]).view(heads, b, m, d).transpose(0, 1)
        return self.out_proj(self.merge_heads(out))


@dataclass(frozen=True)
class ProjectedImage:
    """The image side of the first two-way block: everything in it that no prompt changes.

    Computed once per image (``TwoWayTransformer.project_image``) it saves about a quarter of
    the decoder's work on every click, and lets a batch of prompts share it.
    """

    keys: Tensor  # 1 x N x C image tokens (image embedding + dense prompt embedding)
    key_pe: Tensor  # 1 x N x C
    token_to_image_k: Tensor  # 1 x H x N x d
    token_to_image_v: Tensor  # 1 x H x N x d
    image_to_token_q: Tensor  # 1 x H x N x d


class TwoWayAttentionBlock(nn.Module):
    """Tokens self-attend, tokens read the image, MLP on tokens, the image reads the tokens."""

    def __init__(self, embedding_dim: int, num_heads: int, mlp_dim: int, attention_downsample_rate: int,
                 skip_first_layer_pe: bool) -> None:
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLP(embedding_dim, mlp_dim, embedding_dim, num_layers=2, activation=nn.ReLU)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def project_image(self, keys: Tensor, key_pe: Tensor) -> ProjectedImage:
        t2i, i2t = self.cross_attn_token_to_image, self.cross_attn_image_to_token
        k = keys + key_pe
        return ProjectedImage(
            keys=keys, key_pe=key_pe,
            token_to_image_k=t2i.split_heads(t2i.k_proj(k)),
            token_to_image_v=t2i.split_heads(t2i.v_proj(keys)),
            image_to_token_q=i2t.split_heads(i2t.q_proj(k)),
        )

    def _tokens_self_attend(self, queries: Tensor, query_pe: Tensor) -> Tensor:
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        return self.norm1(queries)

    def forward(self, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor) -> Tuple[Tensor, Tensor]:
        queries = self._tokens_self_attend(queries, query_pe)
        k = keys + key_pe  # keys do not change until the end of the block: add their PE once
        queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, k, keys))
        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys

    def forward_projected(self, queries: Tensor, image: ProjectedImage, query_pe: Tensor) -> Tuple[Tensor, Tensor]:
        """``forward`` for B prompts on one image whose projections were computed beforehand."""
        queries = self._tokens_self_attend(queries, query_pe)
        read = self.cross_attn_token_to_image.attend_projected_image(
            queries + query_pe, image.token_to_image_k, image.token_to_image_v)
        queries = self.norm2(queries + read)
        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        update = self.cross_attn_image_to_token.attend_few_keys(None, q, queries, q_heads=image.image_to_token_q)
        return queries, self.norm4(image.keys + update)


class TwoWayTransformer(nn.Module):
    def __init__(self, depth: int = 2, embedding_dim: int = 256, num_heads: int = 8, mlp_dim: int = 2048,
                 attention_downsample_rate: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim, attention_downsample_rate,
                                 skip_first_layer_pe=(i == 0))
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    @staticmethod
    def _tokens_of(image: Tensor) -> Tensor:
        return image.flatten(2).transpose(1, 2)  # B x C x h x w -> B x hw x C

    def project_image(self, image_embedding: Tensor, image_pe: Tensor) -> ProjectedImage:
        """The first block's image-only projections, for ``forward(..., projected=...)``."""
        if image_embedding.shape[0] != 1:
            raise ValueError("project_image takes one image")
        return self.layers[0].project_image(self._tokens_of(image_embedding), self._tokens_of(image_pe))

    def forward(self, image_embedding: Optional[Tensor], image_pe: Tensor, point_embedding: Tensor,
                projected: Optional[ProjectedImage] = None) -> Tuple[Tensor, Tensor]:
        """image B x C x h x w, its PE (same shape), tokens B x N x C -> (tokens, image tokens).

        With ``projected`` (from ``project_image``) the image comes from there and
        ``image_embedding`` is not read; all B prompts are on that one image.
        """
        queries = point_embedding
        layers = list(self.layers)
        if projected is not None:
            key_pe = projected.key_pe
            queries, keys = layers.pop(0).forward_projected(queries, projected, point_embedding)
        else:
            keys, key_pe = self._tokens_of(image_embedding), self._tokens_of(image_pe)
        for layer in layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe)
        q, k = queries + point_embedding, keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys
