"""Cross-entropy that ignores or down-weights unreliable synthetic pixels."""
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.logging import MessageHub
from torch import Tensor

from wsss_mm.registry import MODELS
from ..utils.robust import (disagreement_weights, drop_ratio_at,
                            weighted_cross_entropy)


@MODELS.register_module()
class ReliableCrossEntropyLoss(nn.Module):
    """Reliability-aware cross-entropy for diffusion-synthetic masks.

    A drop-in ``loss_decode`` of mmseg decode heads. Pixels labelled
    ``ignore_index`` (the attention-confidence band written by the
    generator) are ignored; from ``start_iter`` on, the pixels where the
    model's prediction disagrees with the label and the loss is highest
    (a share growing linearly to ``max_drop_ratio`` over ``ramp_iters``)
    get weight ``down_weight`` (0: ignored). The iteration is read from
    mmengine's message hub (set by the Runner before every iteration).

    Args:
        start_iter (int): First iteration with disagreement weighting.
        ramp_iters (int): Iterations of the linear ramp.
        max_drop_ratio (float): Final share of valid pixels treated as
            unreliable.
        down_weight (float): Weight of unreliable pixels.
        class_weight (list[float], optional): Per-class weights.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name of the loss item (starts with ``loss_``).
    """

    def __init__(self,
                 start_iter: int = 0,
                 ramp_iters: int = 0,
                 max_drop_ratio: float = 0.2,
                 down_weight: float = 0.0,
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if not 0 <= max_drop_ratio <= 1:
            raise ValueError(f'max_drop_ratio must be in [0, 1], got '
                             f'{max_drop_ratio}')
        self.start_iter = start_iter
        self.ramp_iters = ramp_iters
        self.max_drop_ratio = max_drop_ratio
        self.down_weight = down_weight
        self.class_weight = class_weight
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @staticmethod
    def current_iter() -> int:
        """The Runner's iteration (0 outside a Runner)."""
        return int(MessageHub.get_current_instance().get_info('iter', 0))

    def weights(self, cls_score: Tensor, label: Tensor,
                ignore_index: int = 255) -> Tensor:
        """Per-pixel weights at the current iteration."""
        ratio = drop_ratio_at(self.current_iter(), self.start_iter,
                              self.ramp_iters, self.max_drop_ratio)
        return disagreement_weights(cls_score.detach(), label, ratio,
                                    ignore_index, self.down_weight)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        w = self.weights(cls_score, label, ignore_index)
        if weight is not None:
            w = w * weight.float()
        cw = (cls_score.new_tensor(self.class_weight)
              if self.class_weight is not None else None)
        return self.loss_weight * weighted_cross_entropy(
            cls_score, label, w, ignore_index, cw)

    @property
    def loss_name(self) -> str:
        return self._loss_name


__all__ = ['ReliableCrossEntropyLoss']
