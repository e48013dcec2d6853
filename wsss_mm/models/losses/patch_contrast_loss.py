"""Patch contrastive loss module (APC's PCL)."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from wsss_mm.models.utils import patch_contrast_loss
from wsss_mm.registry import MODELS


@MODELS.register_module()
class PatchContrastLoss(nn.Module):
    """Weighted :func:`~wsss_mm.models.utils.patch_contrast_loss`.

    Args:
        high_thr (float): Score above which a patch is high confidence for
            a class. Defaults to 0.85 (paper).
        low_ratio (float, optional): Fraction of patches (rounded up)
            taken as low confidence per class, an option the paper does not
            have. Defaults to None: the single lowest-scoring patch per
            class (the paper's reading).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to 'loss_pcl'.
    """

    def __init__(self,
                 high_thr: float = 0.85,
                 low_ratio: Optional[float] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_pcl') -> None:
        super().__init__()
        self.high_thr = high_thr
        self.low_ratio = low_ratio
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, embeddings: Tensor, scores: Tensor,
                image_labels: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            embeddings (Tensor): Refined patch embeddings ``[B, N, D]``.
            scores (Tensor): Patch probabilities ``[B, N, C]``.
            image_labels (Tensor): Multi-hot image labels ``[B, C]``.

        Returns:
            Tensor: Scalar weighted loss.
        """
        return self.loss_weight * patch_contrast_loss(
            embeddings,
            scores,
            image_labels,
            high_thr=self.high_thr,
            low_ratio=self.low_ratio)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name
