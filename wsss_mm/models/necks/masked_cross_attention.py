"""FSR's masked cross-attention aggregator (certain feature aggregation)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from wsss_mm.registry import MODELS


class _CrossAttention(nn.Module):
    """Multi-head attention of one query token over a set of tokens."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'embed_dims ({dim}) must be divisible by '
                             f'num_heads ({num_heads})')
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: Tensor, tokens: Tensor,
                keep: Optional[Tensor]) -> Tensor:
        b, n, c = tokens.shape
        h = self.num_heads
        q = self.q(query).reshape(b, 1, h, c // h).transpose(1, 2)
        k = self.k(tokens).reshape(b, n, h, c // h).transpose(1, 2)
        v = self.v(tokens).reshape(b, n, h, c // h).transpose(1, 2)
        attn_mask = None if keep is None else keep[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(out.transpose(1, 2).reshape(b, 1, c))


class _AggregationBlock(nn.Module):
    """Masked cross-attention + feed-forward, pre-norm, on the class token.

    ``cls = cls + MCA(LN([cls; x]))``, ``cls = cls + FF(LN(cls))`` (FSR's
    equation 5; the same LayerNorm normalises the class and patch tokens).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, norm_eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = _CrossAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, cls_token: Tensor, tokens: Tensor,
                keep: Optional[Tensor]) -> Tensor:
        normed = self.norm1(torch.cat([cls_token, tokens], dim=1))
        cls_token = cls_token + self.attn(normed[:, :1], normed[:, 1:], keep)
        return cls_token + self.mlp(self.norm2(cls_token))


@MODELS.register_module()
class MaskedCrossAttentionAggregator(BaseModule):
    """Summarise the unmasked patch tokens into one class token (FSR's MCA).

    A learnable class token queries the patch tokens through ``num_blocks``
    cross-attention blocks; masked patches (``mask`` True) are left out of
    the keys and values, so only the certain (unmasked) tokens contribute.
    The result is layer-normalised.

    Args:
        embed_dims (int): Token width. Defaults to 768.
        num_heads (int): Attention heads. Defaults to 12.
        num_blocks (int): Aggregation blocks. Defaults to 2 (FSR).
        mlp_ratio (float): Feed-forward expansion. Defaults to 4.
        qkv_bias (bool): Bias of the q, k, v projections. Defaults to True.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 768,
                 num_heads: int = 12,
                 num_blocks: int = 2,
                 mlp_ratio: float = 4.0,
                 qkv_bias: bool = True,
                 norm_eps: float = 1e-6,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.blocks = nn.ModuleList([
            _AggregationBlock(embed_dims, num_heads, mlp_ratio, qkv_bias,
                              norm_eps) for _ in range(num_blocks)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self._init_own_weights()

    def _init_own_weights(self) -> None:
        trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, tokens: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Aggregate.

        Args:
            tokens (Tensor): ``[B, N, D]`` patch tokens.
            mask (Tensor, optional): ``[B, N]`` bool, True for masked
                patches (excluded). A row with every patch masked attends
                to all of them.

        Returns:
            Tensor: ``[B, D]`` aggregated token.
        """
        keep = None
        if mask is not None:
            keep = ~mask.bool()
            keep = keep | ~keep.any(dim=1, keepdim=True)
        cls_token = self.cls_token.expand(tokens.shape[0], -1, -1)
        for block in self.blocks:
            cls_token = block(cls_token, tokens, keep)
        return self.norm(cls_token)[:, 0]
