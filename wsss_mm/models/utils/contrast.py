"""Patch contrastive loss (APC's PCL, Sec. 3.4)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['patch_contrast_loss']


def patch_contrast_loss(embeddings: Tensor,
                        scores: Tensor,
                        image_labels: Tensor,
                        high_thr: float = 0.85,
                        low_ratio: Optional[float] = None) -> Tensor:
    """Pull confident patches of a class together, push low ones away.

    With ``s_ij = (1 + cos(e_i, e_j)) / 2`` in ``[0, 1]``, for every image
    and every class ``c`` present in its label:

    - ``H_c``: patches with ``score_c > high_thr`` (high confidence);
    - ``L_c`` (low confidence): with ``low_ratio=None`` the paper's
      reading, the one patch with the lowest ``score_c`` outside ``H_c``;
      with a ratio, the ``ceil(low_ratio * N)`` patches with the lowest
      ``score_c``, minus any in ``H_c``;
    - ``loss_c = mean_{i != j in H_c} (1 - s_ij)
      + mean_{i in H_c, j in L_c} s_ij``, a term without pairs counting 0.

    The result is the mean of ``loss_c`` over the (image, class) pairs
    with at least one pair of either kind, and exactly 0 if there is none.
    Patch sets come from the scores without gradient; the loss trains the
    embeddings.

    The similarity matrix ``S`` (``[B, N, N]``) is built once and pair sums
    come from products with the ``[B, N, C]`` masks (``h^T S h`` minus the
    diagonal), so memory grows as ``B * N^2``, never ``B * C * N^2``.

    Args:
        embeddings (Tensor): Refined patch embeddings ``[B, N, D]``.
        scores (Tensor): Patch probabilities ``[B, N, C]``.
        image_labels (Tensor): Multi-hot image labels ``[B, C]``.
        high_thr (float): Score above which a patch is high confidence.
            Defaults to 0.85 (paper).
        low_ratio (float, optional): Fraction of patches, rounded up,
            taken as low confidence per class (not in the paper). Defaults
            to None: the single lowest-scoring patch (paper, Sec. 3.4).

    Returns:
        Tensor: Scalar loss.
    """
    if embeddings.dim() != 3 or scores.dim() != 3:
        raise ValueError('embeddings must be [B, N, D] and scores [B, N, C]'
                         f', got {tuple(embeddings.shape)} and '
                         f'{tuple(scores.shape)}')
    B, N, _ = embeddings.shape
    C = scores.shape[2]
    if scores.shape[:2] != (B, N) or tuple(image_labels.shape) != (B, C):
        raise ValueError(
            f'shape mismatch: embeddings {tuple(embeddings.shape)}, scores '
            f'{tuple(scores.shape)}, image_labels '
            f'{tuple(image_labels.shape)}')
    if low_ratio is not None and not 0 <= low_ratio <= 1:
        raise ValueError(f'low_ratio must be in [0, 1] or None, got '
                         f'{low_ratio}')

    dtype = embeddings.dtype
    scores = scores.detach()
    present = (image_labels > 0).to(scores.device)[:, None, :]  # [B, 1, C]
    high = (scores > high_thr) & present  # [B, N, C]

    if low_ratio is None:
        num_low = 1
    else:
        # round() first: 0.1 * 30 is 3.0000000000000004 in floating point.
        num_low = min(N, math.ceil(round(low_ratio * N, 6)))
    low = torch.zeros_like(high)
    if num_low > 0:
        # High patches rank last, so they are picked only when fewer than
        # num_low other patches exist, and are then removed again.
        ranked = scores.masked_fill(high, float('inf'))
        idx = ranked.topk(num_low, dim=1, largest=False).indices
        low.scatter_(1, idx, True)
        low &= ~high & present

    emb = F.normalize(embeddings, dim=-1)
    sim = (1 + emb @ emb.transpose(1, 2)) / 2  # [B, N, N]
    h = high.to(dtype)
    lo = low.to(dtype)
    sim_h = sim @ h  # [B, N, C]: sum_j S_ij h_j
    hh_sum = (h * sim_h).sum(dim=1)  # includes i == j
    hh_sum = hh_sum - (h * sim.diagonal(dim1=1, dim2=2)[..., None]).sum(1)
    hl_sum = (lo * sim_h).sum(dim=1)  # S is symmetric

    n_h = h.sum(dim=1)  # [B, C]
    n_hh = n_h * (n_h - 1)
    n_hl = n_h * lo.sum(dim=1)
    has_hh = n_hh > 0
    has_hl = n_hl > 0
    # clamp keeps the unused branch of torch.where finite so no NaN leaks
    # into the gradient.
    pull = torch.where(has_hh, 1 - hh_sum / n_hh.clamp(min=1),
                       torch.zeros_like(hh_sum))
    push = torch.where(has_hl, hl_sum / n_hl.clamp(min=1),
                       torch.zeros_like(hl_sum))
    valid = (has_hh | has_hl).to(dtype)
    # Without valid terms this is 0 * finite / 1: exactly 0, still attached
    # to the graph so backward() works.
    return ((pull + push) * valid).sum() / valid.sum().clamp(min=1)
