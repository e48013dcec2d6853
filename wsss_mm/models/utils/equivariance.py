"""Equivariance loss between two affine views (ViT-PCM)."""
from typing import Callable

import torch
from torch import Tensor

__all__ = ['equivariance_loss']


def equivariance_loss(pred_view1: Tensor,
                      pred_view2: Tensor,
                      image_labels: Tensor,
                      transform: Callable[[Tensor], Tensor],
                      eps: float = 1e-6) -> Tensor:
    """Cross-entropy of view 2's prediction against warped view 1.

    The target is built from view 1 without gradient: warped into view 2's
    frame with ``transform``, classes absent from the image zeroed, each
    class map divided by its spatial max (so small objects weigh as much
    as large ones), then renormalised over classes to sum to 1 per pixel.
    Pixels where every present class is 0 get a uniform target over the
    present classes; an image without any label contributes 0.

    Args:
        pred_view1 (Tensor): Probabilities of view 1 ``[B, C, h, w]``;
            detached.
        pred_view2 (Tensor): Probabilities of view 2 ``[B, C, h, w]``.
        image_labels (Tensor): Multi-hot image labels ``[B, C]``.
        transform (Callable): Warps a ``[B, C, h, w]`` map of view 1 into
            view 2's frame, e.g. ``lambda x: torch.flip(x, dims=(-1, ))``.
        eps (float): Guards the max division and the log. Defaults to
            1e-6.

    Returns:
        Tensor: Scalar loss, ``-sum_c target * log(pred_view2 + eps)``
        averaged over pixels.
    """
    target = transform(pred_view1.detach())
    if target.shape != pred_view2.shape or target.dim() != 4:
        raise ValueError(
            'transform(pred_view1) must match pred_view2 [B, C, h, w]: got '
            f'{tuple(target.shape)} vs {tuple(pred_view2.shape)}')
    B, C = pred_view2.shape[:2]
    if tuple(image_labels.shape) != (B, C):
        raise ValueError(f'image_labels must be [B, C] = {(B, C)}, got '
                         f'{tuple(image_labels.shape)}')

    present = (image_labels > 0).to(target)[:, :, None, None]  # [B,C,1,1]
    target = target * present
    target = target / target.amax(dim=(2, 3), keepdim=True).clamp(min=eps)
    total = target.sum(dim=1, keepdim=True)
    uniform = present / present.sum(dim=1, keepdim=True).clamp(min=1)
    tiny = torch.finfo(total.dtype).tiny
    target = torch.where(total > 0, target / total.clamp(min=tiny),
                         uniform.expand_as(target))
    return -(target * torch.log(pred_view2 + eps)).sum(dim=1).mean()
