"""FSR's self-distillation loss with teacher centring (EMA, all-reduced)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from torch import Tensor

from wsss_mm.models.utils.fsr import (ema_center, fsr_class_loss,
                                      fsr_patch_loss, teacher_temperature)
from wsss_mm.registry import MODELS


@MODELS.register_module()
class FSRLoss(nn.Module):
    """Certain (class token) and uncertain (masked patch) FSR losses.

    Teacher outputs are centred with separate class and patch centres
    (buffers, so checkpoints carry them) and sharpened with a temperature
    that warms up linearly from ``warmup_teacher_temp`` to ``teacher_temp``
    over the first ``warmup_ratio`` of training. After each call the centres
    move towards the batch mean of the teacher outputs (EMA
    ``center_momentum``), the mean taken over all processes under DDP.

    Args:
        out_channels (int): Projector output width. Defaults to 4096.
        student_temp (float): Student temperature. Defaults to 0.1.
        warmup_teacher_temp (float): Initial teacher temperature.
            Defaults to 0.04.
        teacher_temp (float): Teacher temperature after the warm-up.
            Defaults to 0.07.
        warmup_ratio (float): Fraction of training for the temperature
            warm-up. Defaults to 1/8.
        center_momentum (float): Centre EMA momentum. Defaults to 0.9.
        loss_weight_class (float): Weight of the certain loss.
            Defaults to 0.1.
        loss_weight_patch (float): Weight of the uncertain loss.
            Defaults to 0.1.
    """

    def __init__(self,
                 out_channels: int = 4096,
                 student_temp: float = 0.1,
                 warmup_teacher_temp: float = 0.04,
                 teacher_temp: float = 0.07,
                 warmup_ratio: float = 0.125,
                 center_momentum: float = 0.9,
                 loss_weight_class: float = 0.1,
                 loss_weight_patch: float = 0.1) -> None:
        super().__init__()
        self.student_temp = student_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.teacher_temp = teacher_temp
        self.warmup_ratio = warmup_ratio
        self.center_momentum = center_momentum
        self.loss_weight_class = loss_weight_class
        self.loss_weight_patch = loss_weight_patch
        self.register_buffer('class_center', torch.zeros(1, out_channels))
        self.register_buffer('patch_center', torch.zeros(1, 1, out_channels))

    def temperature(self, cur_iter: int, max_iters: int) -> float:
        """Teacher temperature at ``cur_iter`` (0-based)."""
        return teacher_temperature(cur_iter, max_iters,
                                   self.warmup_teacher_temp,
                                   self.teacher_temp, self.warmup_ratio)

    def forward(self,
                student_cls: Tensor,
                teacher_cls: Tensor,
                student_patch: Tensor,
                teacher_patch: Tensor,
                mask: Optional[Tensor],
                cur_iter: int,
                max_iters: int,
                update_center: bool = True) -> Dict[str, Tensor]:
        """Compute both losses and update the centres.

        Args:
            student_cls (Tensor): ``[B, K]`` student aggregated token of the
                masked view.
            teacher_cls (Tensor): ``[B, K]`` teacher aggregated token of the
                other view.
            student_patch (Tensor): ``[B, N, K]`` student patch tokens of
                the masked view.
            teacher_patch (Tensor): ``[B, N, K]`` teacher patch tokens of
                the same view, unmasked.
            mask (Tensor | None): ``[B, N]`` patch mask; None gives a zero
                patch loss.
            cur_iter (int): The 0-based training iteration.
            max_iters (int): The number of training iterations.
            update_center (bool): Update the centres. Defaults to True.

        Returns:
            dict[str, Tensor]: ``loss_fsr_cls`` and ``loss_fsr_patch``,
            weighted.
        """
        temp = self.temperature(cur_iter, max_iters)
        loss_cls = fsr_class_loss(student_cls, teacher_cls,
                                  self.class_center, temp, self.student_temp)
        if mask is None:
            loss_patch = student_patch.sum() * 0.0
        else:
            loss_patch = fsr_patch_loss(student_patch, teacher_patch, mask,
                                        self.patch_center, temp,
                                        self.student_temp)
        if update_center:
            self.update_centers(teacher_cls, teacher_patch)
        return dict(
            loss_fsr_cls=self.loss_weight_class * loss_cls,
            loss_fsr_patch=self.loss_weight_patch * loss_patch)

    @torch.no_grad()
    def update_centers(self, teacher_cls: Tensor,
                       teacher_patch: Tensor) -> None:
        """EMA of the batch means (over all processes) of teacher outputs."""
        world = get_world_size()
        cls_sum = teacher_cls.detach().float().sum(dim=0, keepdim=True)
        patch_sum = teacher_patch.detach().float().mean(
            dim=1, keepdim=True).sum(dim=0, keepdim=True)
        all_reduce(cls_sum, op='sum')
        all_reduce(patch_sum, op='sum')
        count = teacher_cls.shape[0] * world
        self.class_center.copy_(
            ema_center(self.class_center, cls_sum / count,
                       self.center_momentum))
        self.patch_center.copy_(
            ema_center(self.patch_center, patch_sum / count,
                       self.center_momentum))
