"""Equivariance loss module (ViT-PCM)."""
from typing import Callable

import torch.nn as nn
from torch import Tensor

from wsss_mm.models.utils import equivariance_loss
from wsss_mm.registry import MODELS


@MODELS.register_module()
class EquivarianceLoss(nn.Module):
    """Weighted :func:`~wsss_mm.models.utils.equivariance_loss`.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to 'loss_eq'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_eq') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred_view1: Tensor, pred_view2: Tensor,
                image_labels: Tensor, transform: Callable[[Tensor],
                                                          Tensor]) -> Tensor:
        """Compute the loss.

        Args:
            pred_view1 (Tensor): Probabilities of view 1 ``[B, C, h, w]``
                (used without gradient as the target).
            pred_view2 (Tensor): Probabilities of view 2 ``[B, C, h, w]``.
            image_labels (Tensor): Multi-hot image labels ``[B, C]``.
            transform (Callable): Warps view 1's maps into view 2's frame.

        Returns:
            Tensor: Scalar weighted loss.
        """
        return self.loss_weight * equivariance_loss(pred_view1, pred_view2,
                                                    image_labels, transform)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name
