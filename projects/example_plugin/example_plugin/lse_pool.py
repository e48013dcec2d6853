"""Log-sum-exp pooling registered into wsss_mm from a separate package."""
import math

import torch
import torch.nn as nn
from torch import Tensor

from wsss_mm.registry import MODELS


def log_sum_exp_pool(scores: Tensor, r: float) -> Tensor:
    """Smooth max over patches: ``log(mean(exp(r * s))) / r``.

    Tends to global average pooling as ``r -> 0`` and to global max pooling
    as ``r -> inf``.

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.
        r (float): Sharpness, > 0.

    Returns:
        Tensor: Image scores ``[B, C]``.
    """
    if r <= 0:
        raise ValueError(f'r must be > 0, got {r}')
    n = scores.shape[1]
    return (torch.logsumexp(r * scores, dim=1) - math.log(n)) / r


@MODELS.register_module()
class LogSumExpPool(nn.Module):
    """Registered wrapper of :func:`log_sum_exp_pool`.

    Args:
        r (float): Sharpness of the smooth maximum.
    """

    def __init__(self, r: float = 10.0) -> None:
        super().__init__()
        self.r = r

    def forward(self, scores: Tensor) -> Tensor:
        return log_sum_exp_pool(scores, self.r)
