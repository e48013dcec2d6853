"""Reliability-aware robust training on noisy synthetic masks (pure).

Synthetic pseudo-masks are wrong in places. Two sources of evidence mark a
pixel unreliable:

- the generator's own uncertainty: pixels in the attention-confidence band
  are stored as ignore (255) in the mask and never reach the loss;
- disagreement with the segmenter being trained: once the model has
  learnt the easy majority (after ``start_iter``), pixels whose label it
  contradicts, with the highest loss first, are ignored or down-weighted;
  the share of pixels treated this way grows linearly from 0 to
  ``max_ratio`` over ``ramp_iters`` (loss truncation as in robust
  learning from noisy labels).
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def drop_ratio_at(it: int, start_iter: int, ramp_iters: int,
                  max_ratio: float) -> float:
    """Share of valid pixels treated as unreliable at iteration ``it``.

    0 before ``start_iter``, then a linear ramp to ``max_ratio`` reached at
    ``start_iter + ramp_iters`` (immediately if ``ramp_iters`` is 0).
    """
    if it < start_iter or max_ratio <= 0:
        return 0.0
    if ramp_iters <= 0:
        return float(max_ratio)
    return float(max_ratio) * min(1.0, (it - start_iter) / ramp_iters)


@torch.no_grad()
def disagreement_weights(logits: Tensor,
                         labels: Tensor,
                         ratio: float,
                         ignore_index: int = 255,
                         down_weight: float = 0.0) -> Tensor:
    """Per-pixel weights: 0 where ignored, ``down_weight`` on the
    unreliable pixels, 1 elsewhere.

    Unreliable: among the valid pixels whose label differs from the model's
    prediction (argmax), the ``floor(ratio * number of valid pixels)`` with
    the highest cross-entropy (all of them if fewer), over the whole batch.

    Args:
        logits (Tensor): ``(N, C, H, W)``.
        labels (Tensor): ``(N, H, W)`` int labels.
        ratio (float): Share of the valid pixels to treat as unreliable.
        ignore_index (int): Label of ignored pixels.
        down_weight (float): Weight of the unreliable pixels (0: ignore).

    Returns:
        Tensor: ``(N, H, W)`` float weights.
    """
    valid = labels != ignore_index
    w = valid.float()
    n = int(ratio * int(valid.sum()))
    if n <= 0:
        return w
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    ce = F.cross_entropy(logits.float(), safe.long(), reduction='none')
    disagree = valid & (logits.argmax(1) != labels)
    score = torch.where(disagree, ce, torch.full_like(ce, -1.0)).flatten()
    n = min(n, int(disagree.sum()))
    if n <= 0:
        return w
    idx = torch.topk(score, n).indices
    flat = w.flatten()
    flat[idx] = down_weight
    return flat.view_as(w)


def weighted_cross_entropy(logits: Tensor,
                           labels: Tensor,
                           weights: Tensor,
                           ignore_index: int = 255,
                           class_weight=None) -> Tensor:
    """``sum(w * CE) / sum(w)`` (0 when every weight is 0)."""
    safe = torch.where(labels != ignore_index, labels,
                       torch.zeros_like(labels)).long()
    ce = F.cross_entropy(
        logits, safe, weight=class_weight, reduction='none')
    total = weights.sum()
    return (ce * weights).sum() / total.clamp_min(1e-12) if total > 0 \
        else (ce * 0).sum()
