"""ToCo's losses as registered modules: balanced cross entropy, the
dense-energy regulariser and class token contrast (CTC). The math is in
``wsss_mm.models.utils`` (``balanced_cross_entropy``,
``scaled_dense_energy``, ``class_token_contrast_loss``)."""
import copy
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from wsss_mm.models.utils import (balanced_cross_entropy,
                                  class_token_contrast_loss,
                                  scaled_dense_energy)
from wsss_mm.registry import MODELS


@MODELS.register_module()
class BalancedCrossEntropyLoss(nn.Module):
    """Mean of background-only and foreground-only cross entropy (ToCo's
    segmentation loss), usable as an mmseg ``loss_decode``.

    Args:
        background_index (int, optional): Background label; None: plain
            cross entropy (datasets without background). Defaults to 0.
        loss_weight (float): Weight. Defaults to 1.0.
        loss_name (str): Name in the loss dict. Defaults to 'loss_bce'.
    """

    def __init__(self,
                 background_index: Optional[int] = 0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bce') -> None:
        super().__init__()
        self.background_index = background_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        if weight is not None:
            raise ValueError('BalancedCrossEntropyLoss takes no pixel '
                             'weights (sampler)')
        return self.loss_weight * balanced_cross_entropy(
            cls_score, label.long(), ignore_index, self.background_index)

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class DenseEnergyLoss(nn.Module):
    """ToCo's dense-energy (CRF) regulariser of the decoder, pure PyTorch.

    ``loss_weight * energy_weight * E`` with ``E`` from
    :func:`~wsss_mm.models.utils.scaled_dense_energy` (ToCo: energy weight
    1e-7 inside ``DenseEnergyLoss``, times ``w_reg`` 0.05).

    Args:
        loss_weight (float): ToCo's ``w_reg``. Defaults to 0.05.
        energy_weight (float): ToCo's inner weight. Defaults to 1e-7.
        sigma_rgb (float): Colour kernel width (0-255). Defaults to 15.
        sigma_xy (float): Spatial kernel width (pixels). Defaults to 100.
        scale_factor (float): Computed at this scale. Defaults to 0.5.
        ignore_index (int): Unlabeled pixels. Defaults to 255.
        chunk (int, optional): Side of the kernel blocks computed at once
            (memory: batch x chunk x chunk values). Defaults to None: 512
            on CPU, 4096 on CUDA
            (:func:`~wsss_mm.models.utils.bilateral_filter`).
        loss_name (str): Defaults to 'loss_reg'.
    """

    def __init__(self,
                 loss_weight: float = 0.05,
                 energy_weight: float = 1e-7,
                 sigma_rgb: float = 15.,
                 sigma_xy: float = 100.,
                 scale_factor: float = 0.5,
                 ignore_index: int = 255,
                 chunk: Optional[int] = None,
                 loss_name: str = 'loss_reg') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.energy_weight = energy_weight
        self.sigma_rgb = sigma_rgb
        self.sigma_xy = sigma_xy
        self.scale_factor = scale_factor
        self.ignore_index = ignore_index
        self.chunk = chunk
        self._loss_name = loss_name

    def forward(self,
                images: Tensor,
                logits: Tensor,
                labels: Tensor,
                roi: Optional[Tensor] = None) -> Tensor:
        """Args: ``images`` 0-255 RGB ``[B, 3, H, W]``, decoder ``logits``
        and pseudo ``labels`` at the same size, valid region ``roi``."""
        energy = scaled_dense_energy(
            images, logits, labels, roi, self.scale_factor, self.sigma_rgb,
            self.sigma_xy, self.ignore_index, self.chunk)
        return self.loss_weight * self.energy_weight * energy

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class ClassTokenContrastLoss(nn.Module):
    """ToCo's class token contrast (CTC) with its momentum projector.

    A projector (DINO-style head, ToCo: 1024 outputs) maps class tokens of
    the 2 global views and the local crops; a momentum copy of it maps the
    (detached) global class tokens; the loss is
    :func:`~wsss_mm.models.utils.class_token_contrast_loss`. The momentum
    copy is a submodule (in the state dict, so checkpoints carry it) and
    is updated by :meth:`momentum_update`, which ToCo calls at every
    training forward before projecting.

    Args:
        projector (dict): Projector config (``in_channels`` is set from
            the backbone by the segmentor when absent).
        momentum (float): EMA momentum of the momentum projector.
            Defaults to 0.9.
        temperature (float): Defaults to 0.5.
        loss_weight (float): ToCo's ``w_ctc``. Defaults to 0.5.
        loss_name (str): Defaults to 'loss_ctc'.
    """

    def __init__(self,
                 projector: dict,
                 momentum: float = 0.9,
                 temperature: float = 0.5,
                 loss_weight: float = 0.5,
                 loss_name: str = 'loss_ctc') -> None:
        super().__init__()
        self.projector = MODELS.build(projector)
        self.momentum_projector = copy.deepcopy(self.projector)
        for p in self.momentum_projector.parameters():
            p.requires_grad = False
        self.momentum = momentum
        self.temperature = temperature
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``p_t <- m p_t + (1 - m) p_s`` for every projector tensor."""
        for p_s, p_t in zip(self.projector.parameters(),
                            self.momentum_projector.parameters()):
            p_t.mul_(self.momentum).add_(p_s.detach(),
                                         alpha=1 - self.momentum)

    def forward(self, global_tokens: Tensor, local_tokens: Tensor,
                flags: Tensor) -> Tensor:
        """Args: ``global_tokens`` ``[2B, D]`` (view-major), class tokens
        of the local crops ``[n B, D]`` (crop-major), ``flags`` ``[B, 2 +
        n]``."""
        with torch.no_grad():
            teacher = self.momentum_projector(global_tokens.detach())
        student = self.projector(torch.cat([global_tokens, local_tokens]))
        return self.loss_weight * class_token_contrast_loss(
            student, teacher, flags, self.temperature)

    @property
    def loss_name(self) -> str:
        return self._loss_name
