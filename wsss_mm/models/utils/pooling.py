"""Patch-to-image pooling of per-patch class probabilities.

Every function maps patch scores ``[B, N, C]`` (probabilities from a
per-patch softmax over ``C`` classes) to image scores ``[B, C]``. They are
pure, vectorised over images and classes, and differentiable: gradients
reach only the patches that contribute to the pooled score.
"""
from typing import Callable, Dict

from torch import Tensor

__all__ = [
    'gmp_pool', 'gap_pool', 'topk_pool', 'adaptive_k_pool',
    'pool_patch_scores', 'POOLING_MODES'
]


def _check_scores(scores: Tensor) -> None:
    if scores.dim() != 3:
        raise ValueError('patch scores must be [B, N, C], got shape '
                         f'{tuple(scores.shape)}')
    if scores.shape[1] == 0:
        raise ValueError('patch scores hold no patch (N = 0)')


def gmp_pool(scores: Tensor) -> Tensor:
    """Global max pooling over patches (ViT-PCM).

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.

    Returns:
        Tensor: Image scores ``[B, C]``, the highest patch score per class.
    """
    _check_scores(scores)
    return scores.amax(dim=1)


def gap_pool(scores: Tensor) -> Tensor:
    """Global average pooling over patches.

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.

    Returns:
        Tensor: Image scores ``[B, C]``, the mean patch score per class.
    """
    _check_scores(scores)
    return scores.mean(dim=1)


def topk_pool(scores: Tensor, k: int) -> Tensor:
    """Mean of the ``k`` highest patch scores per class (fixed K).

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.
        k (int): Patches averaged per class; values above ``N`` are
            clamped to ``N`` (then this equals :func:`gap_pool`).

    Returns:
        Tensor: Image scores ``[B, C]``.
    """
    _check_scores(scores)
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    k = min(int(k), scores.shape[1])
    return scores.topk(k, dim=1).values.mean(dim=1)


def adaptive_k_pool(scores: Tensor,
                    k_max: int = 6,
                    gap: float = 0.1) -> Tensor:
    """Adaptive-K pooling (APC, Algorithm 1).

    Per image and class the patch scores are ranked in descending order.
    The top patch is always kept; a next-ranked patch is kept while its
    score is within ``gap`` of the class maximum, i.e.
    ``score >= max - gap`` (inclusive), up to ``k_max`` patches. The image
    score is the mean of the kept scores, so a single over-confident patch
    no longer decides the image label alone when near-maximal patches
    exist.

    Tie rule: because the test is inclusive, every patch whose score equals
    the maximum is kept (up to ``k_max``), so ``gap=0`` keeps exactly the
    patches tied at the maximum and the pooled value is the maximum. When
    more patches than ``k_max`` qualify, which of equal-scored patches
    receive the gradient follows :func:`torch.topk` and is unspecified; the
    pooled value does not depend on it.

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.
        k_max (int): Most patches averaged per class; clamped to ``N``.
            Defaults to 6 (paper).
        gap (float): Largest distance below the class maximum at which a
            patch still joins, ``>= 0``. Defaults to 0.1 (paper).

    Returns:
        Tensor: Image scores ``[B, C]``. Gradients reach exactly the kept
        patches.
    """
    _check_scores(scores)
    if k_max < 1:
        raise ValueError(f'k_max must be >= 1, got {k_max}')
    if gap < 0:
        raise ValueError(f'gap must be >= 0, got {gap}')
    k = min(int(k_max), scores.shape[1])
    # Sorted descending, so the kept set is a prefix of the ranking and the
    # per-class K is simply the length of that prefix.
    top = scores.topk(k, dim=1).values  # [B, k, C]
    ranked = top.detach()
    keep = ranked >= ranked[:, :1] - gap  # rank 0 always kept
    keep = keep.to(top.dtype)
    # Multiplying by the 0/1 mask gives exactly zero gradient to dropped
    # candidates, and the top-k gather gives zero to every other patch.
    return (top * keep).sum(dim=1) / keep.sum(dim=1)


POOLING_MODES: Dict[str, Callable[..., Tensor]] = {
    'gmp': gmp_pool,
    'gap': gap_pool,
    'topk': topk_pool,
    'adaptive_k': adaptive_k_pool,
}


def pool_patch_scores(scores: Tensor, mode: str, **kwargs) -> Tensor:
    """Pool patch scores with a pooling chosen by name.

    Args:
        scores (Tensor): Patch scores ``[B, N, C]``.
        mode (str): One of ``'gmp'``, ``'gap'``, ``'topk'`` (needs ``k``)
            and ``'adaptive_k'`` (optional ``k_max``, ``gap``).
        **kwargs: Passed to the chosen pooling function.

    Returns:
        Tensor: Image scores ``[B, C]``.

    Raises:
        ValueError: ``mode`` is not a known pooling.
    """
    if mode not in POOLING_MODES:
        raise ValueError(f'unknown pooling mode {mode!r}; valid modes are '
                         f'{sorted(POOLING_MODES)}')
    return POOLING_MODES[mode](scores, **kwargs)
