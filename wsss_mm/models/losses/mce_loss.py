"""Multi-label classification error (MCE) of APC / ViT-PCM."""
import torch
import torch.nn as nn
from torch import Tensor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class MCELoss(nn.Module):
    """Mean binary cross-entropy between image scores and image labels.

    The image scores are already probabilities (pooled per-patch softmax
    outputs), so this is BCE on probabilities, clamped to
    ``[eps, 1 - eps]`` because a pooled score can reach exactly 0 or 1.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item; it must start with
            ``loss_`` to be back-propagated. Defaults to 'loss_mce'.
        eps (float): Clamp margin of the probabilities. Defaults to 1e-6.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mce',
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    def forward(self, pooled_scores: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pooled_scores (Tensor): Image probabilities ``[B, C]`` in
                ``(0, 1)``.
            labels (Tensor): Multi-hot image labels ``[B, C]``.

        Returns:
            Tensor: Scalar loss, averaged over images and classes.
        """
        if pooled_scores.shape != labels.shape:
            raise ValueError(
                f'pooled_scores {tuple(pooled_scores.shape)} and labels '
                f'{tuple(labels.shape)} must have the same shape')
        probs = pooled_scores.clamp(self.eps, 1 - self.eps)
        labels = labels.to(probs.dtype)
        bce = -(
            labels * torch.log(probs) + (1 - labels) * torch.log(1 - probs))
        return self.loss_weight * bce.mean()

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name
