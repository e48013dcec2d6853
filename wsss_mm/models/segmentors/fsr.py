"""FSR: progressive feature self-reinforcement (Yang et al., AAAI 2024).

Public reference: Jessie459/feature-self-reinforcement (``train_voc.py``,
``models/network.py``, ``losses.py``, ``utils/masking.py``); DESIGN.md,
section FSR. Built on :class:`~wsss_mm.models.segmentors.ToCo` (without its
class token contrast); the formulas live in
:mod:`wsss_mm.models.utils.fsr`.
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from mmengine.model import ExponentialMovingAverage
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from wsss_mm.models.utils.fsr import is_random_mask_phase, uncertain_block_mask
from wsss_mm.registry import MODELS
from .patch_classifier_segmentor import refuse_pixel_ground_truth
from .toco import ToCo, current_iter

_MASK_DEFAULTS = dict(
    block_size=64, mask_ratio=0.4, low_thr=0.2, high_thr=0.7,
    random_ratio=0.2)


@MODELS.register_module()
class FSR(ToCo):
    """ToCo + uncertain-patch masking + EMA-teacher self-distillation.

    Training takes two augmented views of each image (``inputs`` is
    ``[view1, view2]``: :class:`~wsss_mm.datasets.transforms.FSRTwoViews`,
    :class:`~wsss_mm.datasets.transforms.PackMultiViewWSSSInputs` and
    :class:`~wsss_mm.models.MultiViewSegDataPreProcessor`).

    .. code:: text

     loss(): cams(view1) [no grad]
             -> mask of view 2: random blocks for the first fifth of
                training, then uncertain blocks of cams(view2)'s aux CAM
                first (uncertain_block_mask)
             -> backbone.forward_tokens([view1, masked view2])
             -> ToCo on view 1: loss_cls, loss_cls_aux, loss_ptc,
                decode.loss_bce + loss_reg (x 0 until seg_start_iter)
             -> student: projector(aggregator(view-2 tokens, unmasked
                only)), projector(view-2 patch tokens)
             -> teacher [no grad, EMA copy of backbone + aggregator +
                projector]: view 1 class token, view 2 patch tokens
             -> FSRLoss: loss_fsr_cls, loss_fsr_patch
                (x 0 from iteration fsr_iters on)

    The teacher (``self.teacher``, an mmengine
    ``ExponentialMovingAverage``) is a submodule, so checkpoints and
    ``--resume`` carry it; it is never updated in ``forward``:
    :class:`~wsss_mm.engine.hooks.TeacherEMAHook` calls
    :meth:`update_teacher` after each optimizer step. The schedules
    (masking phase, teacher temperature, segmentation loss start) come from
    the runner's iteration (message hub), so a resumed run continues on
    schedule. Inference is ToCo's (decoder or CAMs, single view).

    ``fsr_iters`` is the public code's ``--fsr_iters``: the FSR losses
    count for the 0-based iterations ``< fsr_iters`` and are multiplied by
    0 afterwards (the teacher's forward pass and the centre updates still
    run, as in the public code), and ``TeacherEMAHook`` runs its cosine
    momentum schedule over ``fsr_iters`` iterations, then holds the
    momentum at 1.0 (teacher frozen). The masking phases do not depend on
    it (random for the first ``random_ratio`` of ``max_iters``).

    Args:
        aggregator (dict): ``MaskedCrossAttentionAggregator`` config
            (``embed_dims`` and ``num_heads`` default to the backbone's).
        projector (dict): ``DINOProjector`` config (``in_channels``
            defaults to the backbone width).
        loss_fsr (dict): ``FSRLoss`` config (``out_channels`` defaults to
            the projector's).
        mask_cfg (dict): ``block_size`` 64 px, ``mask_ratio`` 0.4,
            ``low_thr`` 0.2, ``high_thr`` 0.7, ``random_ratio`` 0.2 (the
            random-masking fraction of training).
        max_iters (int, optional): Training length used outside a runner
            (inside one, the runner's ``max_iters``).
        fsr_iters (int, optional): Iterations with the FSR losses (and the
            teacher's momentum schedule); None: the whole run (the public
            default: ``--fsr_iters`` = ``--max_iters``, 20k VOC, 80k COCO).
        **kwargs: :class:`ToCo` arguments (``ctc`` must stay None: FSR
            replaces class token contrast); the backbone needs
            ``with_mask_token=True``.
    """

    def __init__(self,
                 aggregator: ConfigType = dict(
                     type='MaskedCrossAttentionAggregator'),
                 projector: ConfigType = dict(type='DINOProjector'),
                 loss_fsr: ConfigType = dict(type='FSRLoss'),
                 mask_cfg: OptConfigType = None,
                 max_iters: Optional[int] = None,
                 fsr_iters: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.ctc is not None:
            raise ValueError('FSR does not use class token contrast; set '
                             'ctc=None')
        if not getattr(self.backbone, 'with_mask_token', False):
            raise ValueError('FSR masks patches of view 2: the backbone '
                             'needs with_mask_token=True')
        embed_dims = self.backbone.embed_dims
        aggregator = dict(aggregator)
        aggregator.setdefault('embed_dims', embed_dims)
        heads = getattr(self.backbone, 'arch_settings', {}).get('num_heads')
        if heads is not None:
            aggregator.setdefault('num_heads', heads)
        self.aggregator = MODELS.build(aggregator)
        projector = dict(projector)
        projector.setdefault('in_channels', embed_dims)
        self.projector = MODELS.build(projector)
        loss_fsr = dict(loss_fsr)
        loss_fsr.setdefault('out_channels', self.projector.out_channels)
        self.loss_fsr = MODELS.build(loss_fsr)
        self.mask_cfg = dict(_MASK_DEFAULTS, **(mask_cfg or {}))
        self.max_iters = max_iters
        if fsr_iters is not None and fsr_iters < 0:
            raise ValueError(f'fsr_iters must be >= 0, got {fsr_iters}')
        self.fsr_iters = fsr_iters
        self.teacher = ExponentialMovingAverage(self.student_parts())
        # The teacher starts as a copy (init_weights) and is averaged from
        # the first update on (mmengine would copy at steps == 0).
        self.teacher.steps.fill_(1)

    # ------------------------------------------------------------------
    # teacher
    # ------------------------------------------------------------------
    def student_parts(self) -> nn.ModuleDict:
        """The student modules the teacher mirrors (shared, not copied)."""
        return nn.ModuleDict(
            dict(
                backbone=self.backbone,
                aggregator=self.aggregator,
                projector=self.projector))

    def init_weights(self) -> None:
        """Initialise the student, then copy it into the teacher."""
        super().init_weights()
        self.teacher.module.load_state_dict(self.student_parts().state_dict())

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """``teacher = momentum * teacher + (1 - momentum) * student``."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'momentum must be in [0, 1], got {momentum}')
        self.teacher.momentum = 1.0 - momentum  # mmengine's convention
        self.teacher.update_parameters(self.student_parts())

    def train(self, mode: bool = True) -> 'FSR':
        """Set the student's mode; the teacher always evaluates."""
        super().train(mode)
        self.teacher.train(False)
        return self

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def train_progress(self) -> Tuple[int, int]:
        """``(cur_iter, max_iters)`` from the runner's message hub (or
        ``self.max_iters`` outside a runner)."""
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if max_iters is None:
            max_iters = self.max_iters
        if max_iters is None:
            raise RuntimeError(
                'FSR schedules need the training length: train with the '
                'mmengine Runner or set model.max_iters')
        return current_iter(), int(max_iters)

    def fsr_active(self, cur_iter: int) -> bool:
        """Whether the FSR losses count at the 0-based ``cur_iter`` (the
        public code's ``w_class_schedule[n_iter] != 0``)."""
        return self.fsr_iters is None or cur_iter < self.fsr_iters

    def patch_grid(self, inputs: Tensor) -> Tuple[int, int]:
        """Patch grid ``(h, w)`` of an input (the patch embedding pads to
        a multiple of the patch size)."""
        ps = self.backbone.patch_embed.projection.stride
        return (math.ceil(inputs.shape[-2] / ps[0]),
                math.ceil(inputs.shape[-1] / ps[1]))

    @torch.no_grad()
    def view_mask(self, view: Tensor, cls_label: Tensor, cur_iter: int,
                  max_iters: int) -> Tensor:
        """FSR's ``[B, N]`` patch mask of ``view`` (random phase first,
        then uncertain blocks of the view's aux CAM first)."""
        cfg = self.mask_cfg
        random_phase = is_random_mask_phase(cur_iter, max_iters,
                                            cfg['random_ratio'])
        cam_aux = None
        if not random_phase:
            _, cam_aux = self.cams(view)
        # A generator seeded from the run's seed, the iteration and the
        # rank: the masks are a function of the iteration, so a resumed
        # run draws the masks the uninterrupted run would have drawn.
        seed = (torch.initial_seed() + 1000003 * (cur_iter + 1) +
                get_rank()) % (2**63)
        generator = torch.Generator().manual_seed(seed)
        return uncertain_block_mask(
            cam_aux,
            cls_label,
            self.patch_grid(view),
            patch_size=self.backbone.patch_embed.projection.stride[0],
            block_size=cfg['block_size'],
            mask_ratio=cfg['mask_ratio'],
            low_thr=cfg['low_thr'],
            high_thr=cfg['high_thr'],
            random_phase=random_phase,
            batch_size=view.shape[0],
            generator=generator,
            device=view.device)

    def loss(self, inputs, data_samples: SampleList) -> Dict:
        """Losses from image-level labels only (two views).

        Raises:
            ValueError: ``inputs`` is not two views, or a sample carries
                pixel ground truth.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                'FSR trains on two views per image: use FSRTwoViews and '
                'PackMultiViewWSSSInputs in the train pipeline and '
                'MultiViewSegDataPreProcessor as data_preprocessor')
        x1, x2 = inputs
        if x1.shape != x2.shape:
            raise ValueError(f'the two views differ in size: '
                             f'{tuple(x1.shape)} vs {tuple(x2.shape)}')
        refuse_pixel_ground_truth(data_samples)
        cls_label = self.image_labels(data_samples, x1.device)
        img_box = self.image_boxes(data_samples, x1.device)
        b = x1.shape[0]
        cur_iter, max_iters = self.train_progress()
        cam, cam_aux = self.cams(x1)
        mask2 = self.view_mask(x2, cls_label, cur_iter, max_iters)

        both = torch.cat([x1, x2])
        out = self.backbone.forward_tokens(
            both, patch_mask=torch.cat([torch.zeros_like(mask2), mask2]))
        hw = out['patch_resolution']
        tokens = out['tokens']
        final_map = self.backbone.tokens_to_map(tokens[:b], hw)
        aux_map = self.backbone.tokens_to_map(out['aux_tokens'][:b], hw)

        losses = self.classification_losses(final_map, aux_map, cls_label)
        losses['loss_ptc'] = self.loss_ptc_weight * self.ptc_loss(
            tokens[:b], cam_aux, cls_label, img_box, hw)
        losses.update(
            self.seg_losses(x1, (aux_map, final_map), cam, cls_label,
                            img_box, data_samples))

        student_cls = self.projector(self.aggregator(tokens[b:], mask2))
        student_patch = self.projector(tokens[b:])
        with torch.no_grad():
            teacher = self.teacher.module
            t_tokens = teacher.backbone.forward_tokens(both)['tokens']
            teacher_cls = teacher.projector(
                teacher.aggregator(t_tokens[:b]))
            teacher_patch = teacher.projector(t_tokens[b:])
        fsr_losses = self.loss_fsr(student_cls, teacher_cls, student_patch,
                                   teacher_patch, mask2, cur_iter, max_iters)
        if not self.fsr_active(cur_iter):
            # x 0, not dropped: the graph (and DDP's gradients) stay alike
            fsr_losses = {k: v * 0.0 for k, v in fsr_losses.items()}
        losses.update(fsr_losses)
        return losses


__all__ = ['FSR']
