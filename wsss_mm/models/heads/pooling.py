"""Registered patch-to-image pooling layers (thin around the pure math).

Each maps patch scores ``[B, N, C]`` to image scores ``[B, C]``. Heads take
one as ``pooling=dict(type=...)``, so third-party packages can register
their own pooling and swap it in by config.
"""
import torch.nn as nn
from torch import Tensor

from wsss_mm.models.utils import (adaptive_k_pool, gap_pool, gmp_pool,
                                  topk_pool, topk_ratio_pool)
from wsss_mm.registry import MODELS


@MODELS.register_module()
class GlobalMaxPool(nn.Module):
    """Global max pooling over patches (ViT-PCM)."""

    def forward(self, scores: Tensor) -> Tensor:
        return gmp_pool(scores)


@MODELS.register_module()
class GlobalAvgPool(nn.Module):
    """Global average pooling over patches."""

    def forward(self, scores: Tensor) -> Tensor:
        return gap_pool(scores)


@MODELS.register_module()
class TopKPool(nn.Module):
    """Mean of the ``k`` highest patch scores per class.

    Args:
        k (int): Number of patches averaged.
    """

    def __init__(self, k: int = 6) -> None:
        super().__init__()
        self.k = k

    def forward(self, scores: Tensor) -> Tensor:
        return topk_pool(scores, self.k)


@MODELS.register_module()
class TopKRatioPool(nn.Module):
    """Mean of the highest ``ceil(ratio * N)`` patch scores per class.

    Args:
        ratio (float): Fraction of the patches averaged.
    """

    def __init__(self, ratio: float = 0.5) -> None:
        super().__init__()
        self.ratio = ratio

    def forward(self, scores: Tensor) -> Tensor:
        return topk_ratio_pool(scores, self.ratio)


@MODELS.register_module()
class AdaptiveKPool(nn.Module):
    """Adaptive-K pooling (APC).

    Args:
        k_max (int): Most patches averaged per class.
        gap (float): ``mode='gap'``: a patch joins while its score is
            within ``gap`` of the class maximum.
        mode (str): ``'gap'`` or ``'ratio'`` (see
            :func:`wsss_mm.models.utils.adaptive_k_pool`).
        ratio (float): ``mode='ratio'``: a patch joins while its score is
            at least ``ratio`` times the class maximum.
    """

    def __init__(self,
                 k_max: int = 6,
                 gap: float = 0.1,
                 mode: str = 'gap',
                 ratio: float = 0.9) -> None:
        super().__init__()
        self.k_max = k_max
        self.gap = gap
        self.mode = mode
        self.ratio = ratio

    def forward(self, scores: Tensor) -> Tensor:
        return adaptive_k_pool(
            scores,
            k_max=self.k_max,
            gap=self.gap,
            mode=self.mode,
            ratio=self.ratio)
