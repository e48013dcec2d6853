"""ToCo: token contrast for single-stage WSSS (Ru et al., CVPR 2023).

Public reference: rulixiang/ToCo (``scripts/dist_train_voc_seg_neg.py``,
``model/model_seg_neg.py``); the formulas live in ``wsss_mm.models.utils``
(``cam``, ``par``, ``token_contrast``, ``dense_energy``). FSR builds on this
segmentor.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from wsss_mm.models.utils import (cam_to_label, cam_to_roi_mask,
                                  crop_from_uncertain, multi_scale_cam,
                                  pixel_adaptive_refine, random_hflip,
                                  random_resized_views,
                                  refine_cams_with_background,
                                  token_contrast_loss)
from wsss_mm.registry import MODELS
from .patch_classifier_segmentor import (denormalize_inputs,
                                         image_labels_for_inference,
                                         img_metas_for_inference,
                                         refuse_pixel_ground_truth,
                                         stack_image_labels)

_CAM_DEFAULTS = dict(
    scales=(1.0, 0.5, 1.5), bkg_thr=0.5, high_thr=0.7, low_thr=0.25)
_PAR_DEFAULTS = dict(
    dilations=(1, 2, 4, 8, 12, 24), num_iter=10, down_scale=2)
_CTC_VIEW_DEFAULTS = dict(
    num_crops=8, crop_size=96, neg_ratio=0.2, global_scale=(0.4, 1.0))


def current_iter() -> int:
    """0-based index of the running training iteration (mmengine's
    message hub ``iter``; 0 outside a runner). Resumed runs continue from
    the checkpoint's iteration, so schedules resume on time."""
    value = MessageHub.get_current_instance().get_info('iter')
    return 0 if value is None else int(value)


@MODELS.register_module()
class ToCo(BaseSegmentor):
    """ToCo segmentor: ViT CAMs, token contrast and a LargeFOV decoder,
    trained from image-level labels only.

    1. ``loss`` (training; pixel ground truth is refused):

    .. code:: text

     loss(): image_labels() -> cams() [no grad, multi-scale + flip]
             -> backbone.forward_tokens([inputs, global view 2])
             -> classification_losses()   loss_cls, loss_cls_aux
             -> ptc_loss()                aux CAM labels -> loss_ptc
             -> ctc_loss()                crops from uncertain regions of
                                          the aux CAM -> loss_ctc
             -> seg_losses()              PAR-refined CAM labels ->
                                          decode.loss_bce, loss_reg
                                          (x 0 until seg_start_iter)

    2. ``predict``: ``infer_from='decoder'`` runs
    ``encode_decode() -> decode_head.predict()``; ``'classifier'`` returns
    the multi-scale CAMs of the image's classes (ground-truth image labels
    when given, else the classifier's) with a constant ``bkg_thr``
    background channel (argmax = ToCo's ``cam_to_label``); then
    ``postprocess_result()`` (crop padding, undo flip, resize).

    3. ``_forward``: decoder logits.

    Args:
        backbone (dict): ``ToCoVisionTransformer`` config.
        decode_head (dict): Decode head on the final tokens (ToCo:
            ``LargeFOVHead`` with ``BalancedCrossEntropyLoss``, weight 0.1).
        with_background (bool): Whether class 0 of the dataset is
            background (VOC, COCO) or not (CamVid). The classifiers have
            ``num_classes - 1`` or ``num_classes`` outputs.
        cam_cfg (dict): ``scales`` (1.0, 0.5, 1.5), ``bkg_thr`` 0.5,
            ``high_thr`` 0.7, ``low_thr`` 0.25 (COCO: 0.45, 0.65, 0.25).
        par_cfg (dict): ``dilations`` (1, 2, 4, 8, 12, 24), ``num_iter``
            10, ``down_scale`` 2.
        loss_cls_weight, loss_cls_aux_weight (float): 1.0, 1.0.
        loss_ptc_weight (float): ToCo's ``w_ptc``, 0.2.
        ctc (dict, optional): ``ClassTokenContrastLoss`` config (weight
            0.5, momentum 0.9, temperature 0.5); None disables CTC.
        ctc_view_cfg (dict): ``num_crops`` 8, ``crop_size`` 96,
            ``neg_ratio`` 0.2, ``global_scale`` (0.4, 1.0).
        reg_loss (dict, optional): ``DenseEnergyLoss`` config (weight
            0.05); None disables it.
        seg_start_iter (int): The segmentation and regularisation losses
            count from the iteration whose 0-based index exceeds it
            (ToCo: ``n_iter > 2000``); before, they are multiplied by 0.
        infer_from (str): 'decoder' or 'classifier' (CAMs).
        cls_thr (float): Logit threshold of the classifier's image labels
            when no ground-truth labels are used at inference (ToCo: 0).
        use_gt_image_labels (bool): At CAM inference, use the samples'
            ``gt_image_labels`` when present (pseudo masks of train).
        ignore_index (int): Label of uncertain pixels. Defaults to 255.
        data_preprocessor, train_cfg, test_cfg, init_cfg: As mmseg's.
    """
    # result files: infer_from='classifier' predicts from CAMs
    classifier_source = 'cam'


    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 with_background: bool = True,
                 cam_cfg: OptConfigType = None,
                 par_cfg: OptConfigType = None,
                 loss_cls_weight: float = 1.0,
                 loss_cls_aux_weight: float = 1.0,
                 loss_ptc_weight: float = 0.2,
                 ctc: OptConfigType = None,
                 ctc_view_cfg: OptConfigType = None,
                 reg_loss: OptConfigType = None,
                 seg_start_iter: int = 2000,
                 infer_from: str = 'decoder',
                 cls_thr: float = 0.0,
                 use_gt_image_labels: bool = True,
                 ignore_index: int = 255,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:  # mmseg.apis.init_model sets None
            raise ValueError(
                f'pretrained={pretrained!r} is not used by '
                f'{type(self).__name__}: set the weights in the backbone, '
                "e.g. backbone=dict(init_cfg=dict(type='Pretrained', "
                'checkpoint=FILE))')
        if infer_from not in ('decoder', 'classifier'):
            raise ValueError("infer_from must be 'decoder' or 'classifier' "
                             f'(CAMs), got {infer_from!r}')
        self.backbone = MODELS.build(backbone)
        embed_dims = self.backbone.embed_dims
        decode_head = dict(decode_head)
        decode_head.setdefault('in_channels', embed_dims)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.num_classes
        self.with_background = with_background
        self.num_fg = self.num_classes - 1 if with_background \
            else self.num_classes
        if self.num_fg < 1:
            raise ValueError(f'{self.num_classes} classes leave no '
                             'foreground class')
        self.classifier = nn.Conv2d(embed_dims, self.num_fg, 1, bias=False)
        self.aux_classifier = nn.Conv2d(
            embed_dims, self.num_fg, 1, bias=False)
        self.cam_cfg = dict(_CAM_DEFAULTS, **(cam_cfg or {}))
        self.par_cfg = dict(_PAR_DEFAULTS, **(par_cfg or {}))
        self.ctc_view_cfg = dict(_CTC_VIEW_DEFAULTS, **(ctc_view_cfg or {}))
        self.loss_cls_weight = loss_cls_weight
        self.loss_cls_aux_weight = loss_cls_aux_weight
        self.loss_ptc_weight = loss_ptc_weight
        self.ctc = None
        if ctc is not None:
            ctc = dict(ctc)
            ctc['projector'] = dict(ctc['projector'])
            ctc['projector'].setdefault('in_channels', embed_dims)
            self.ctc = MODELS.build(ctc)
        self.reg_loss = MODELS.build(reg_loss) if reg_loss else None
        self.seg_start_iter = seg_start_iter
        self.infer_from = infer_from
        self.cls_thr = cls_thr
        self.use_gt_image_labels = use_gt_image_labels
        self.ignore_index = ignore_index
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    # ------------------------------------------------------------------
    # features and CAMs
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """``(aux_map, final_map)`` of the backbone, ``[B, D, h, w]``."""
        return self.backbone(inputs)

    def classify(self, final_map: Tensor,
                 aux_map: Tensor) -> Tuple[Tensor, Tensor]:
        """Image logits ``[B, C]`` of both classifiers (global max pool,
        then the bias-free 1x1 classifier)."""
        cls = self.classifier(F.adaptive_max_pool2d(final_map, 1))
        cls_aux = self.aux_classifier(F.adaptive_max_pool2d(aux_map, 1))
        return cls.flatten(1), cls_aux.flatten(1)

    def cam_maps(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Raw CAMs ``(cam, cam_aux)``, ``[B, C, h, w]``: the classifier
        weights applied to the final and aux token maps."""
        return self.backbone.class_activation_maps(
            inputs, self.classifier.weight, self.aux_classifier.weight)

    def cams(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Multi-scale flip CAMs ``(cam, cam_aux)`` in ``[0, 1)`` at the
        input size (no gradient)."""
        return multi_scale_cam(self.cam_maps, inputs,
                               self.cam_cfg['scales'])

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def image_labels(self, data_samples: SampleList,
                     device: torch.device) -> Tensor:
        """Foreground multi-hot labels ``[B, C]`` (background dropped)."""
        labels = stack_image_labels(data_samples).to(device)
        if labels.shape[1] != self.num_classes:
            raise ValueError(
                f'gt_image_labels have {labels.shape[1]} classes, the '
                f'model {self.num_classes}')
        return labels[:, 1:] if self.with_background else labels

    @staticmethod
    def image_boxes(data_samples: SampleList,
                    device: torch.device) -> Tensor:
        """``[B, 4]`` rows ``[0, h, 0, w]``: the image inside the padded
        batch (``img_shape`` before padding)."""
        rows = []
        for s in data_samples:
            h, w = s.metainfo['img_shape'][:2]
            rows.append([0, int(h), 0, int(w)])
        return torch.tensor(rows, device=device, dtype=torch.long)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict:
        """Losses from image-level labels only.

        Raises:
            ValueError: a sample carries pixel ground truth.
        """
        refuse_pixel_ground_truth(data_samples)
        cls_label = self.image_labels(data_samples, inputs.device)
        img_box = self.image_boxes(data_samples, inputs.device)
        b = inputs.shape[0]
        cam, cam_aux = self.cams(inputs)

        views = [inputs]
        if self.ctc is not None:
            views.append(
                random_resized_views(
                    inputs, scale=tuple(self.ctc_view_cfg['global_scale'])))
        out = self.backbone.forward_tokens(torch.cat(views))
        hw = out['patch_resolution']
        tokens = out['tokens'][:b]
        final_map = self.backbone.tokens_to_map(tokens, hw)
        aux_map = self.backbone.tokens_to_map(out['aux_tokens'][:b], hw)

        losses = self.classification_losses(final_map, aux_map, cls_label)
        losses['loss_ptc'] = self.loss_ptc_weight * self.ptc_loss(
            tokens, cam_aux, cls_label, img_box, hw)
        if self.ctc is not None:
            losses[self.ctc.loss_name] = self.ctc_loss(
                inputs, cam_aux, cls_label, out['cls_token'])
        losses.update(
            self.seg_losses(inputs, (aux_map, final_map), cam, cls_label,
                            img_box, data_samples))
        return losses

    def classification_losses(self, final_map: Tensor, aux_map: Tensor,
                              cls_label: Tensor) -> Dict[str, Tensor]:
        """Multilabel soft-margin losses of both classifiers."""
        cls, cls_aux = self.classify(final_map, aux_map)
        return dict(
            loss_cls=self.loss_cls_weight *
            F.multilabel_soft_margin_loss(cls, cls_label),
            loss_cls_aux=self.loss_cls_aux_weight *
            F.multilabel_soft_margin_loss(cls_aux, cls_label))

    def token_labels(self, cam_aux: Tensor, cls_label: Tensor,
                     img_box: Tensor, hw: Tuple[int, int],
                     size: Tuple[int, int]) -> Tensor:
        """PTC targets ``[B, h * w]``: the aux CAM resized to the token
        grid, thresholded with ``ignore_mid`` inside the image box (scaled
        to the grid; ToCo slices the grid with pixel coordinates)."""
        small = F.interpolate(
            cam_aux, size=hw, mode='bilinear', align_corners=False)
        box = img_box.clone().float()
        box[:, :2] *= hw[0] / size[0]
        box[:, 2:] *= hw[1] / size[1]
        box = torch.stack([
            box[:, 0].floor(), box[:, 1].ceil(), box[:, 2].floor(),
            box[:, 3].ceil()
        ], dim=1).long()
        cfg = self.cam_cfg
        labels = cam_to_label(
            small, cls_label, cfg['bkg_thr'], cfg['high_thr'],
            cfg['low_thr'], ignore_mid=True, ignore_index=self.ignore_index,
            img_box=box, with_background=self.with_background)
        return labels.flatten(1)

    def ptc_loss(self, tokens: Tensor, cam_aux: Tensor, cls_label: Tensor,
                 img_box: Tensor, hw: Tuple[int, int]) -> Tensor:
        """Patch token contrast of the final tokens against aux-CAM labels
        (unweighted)."""
        labels = self.token_labels(cam_aux, cls_label, img_box, hw,
                                   tuple(cam_aux.shape[-2:]))
        return token_contrast_loss(tokens, labels, self.ignore_index)

    def ctc_loss(self, inputs: Tensor, cam_aux: Tensor, cls_label: Tensor,
                 global_cls_tokens: Tensor) -> Tensor:
        """Class token contrast (weighted by the CTC module).

        Global views: the input and a random resized crop of it (their
        class tokens from the main forward pass, the momentum branch
        detached). Local views: ``num_crops`` crops of the input from
        regions the aux CAM leaves uncertain or background, each flipped
        with probability 0.5.
        """
        cfg = self.ctc_view_cfg
        roi = cam_to_roi_mask(cam_aux, cls_label, self.cam_cfg['high_thr'],
                              self.cam_cfg['low_thr'])
        crops, flags = crop_from_uncertain(inputs, roi, cfg['num_crops'],
                                           cfg['crop_size'],
                                           cfg['neg_ratio'])
        local = random_hflip(torch.cat(crops))
        local_cls = self.backbone.forward_tokens(local)['cls_token']
        self.ctc.momentum_update()
        return self.ctc(global_cls_tokens, local_cls, flags)

    def seg_active(self) -> bool:
        """Whether the segmentation losses count at this iteration."""
        return current_iter() > self.seg_start_iter

    def seg_losses(self, inputs: Tensor, feats: Tuple[Tensor, Tensor],
                   cam: Tensor, cls_label: Tensor, img_box: Tensor,
                   data_samples: SampleList) -> Dict[str, Tensor]:
        """Decoder loss against PAR-refined CAM labels and the dense-energy
        regulariser; zero (kept in the graph) before ``seg_start_iter``.

        ``feats`` is ``(aux_map, final_map)`` as :meth:`extract_feat`
        returns (ToCo's decoder reads the final map: ``in_index=-1``).
        """
        seg_logits = self.decode_head(feats)
        if not self.seg_active():
            zero = seg_logits.sum() * 0
            losses = {f'decode.{self.decode_head.loss_decode.loss_name}':
                      zero}
            if self.reg_loss is not None:
                losses[self.reg_loss.loss_name] = zero
            return losses
        pseudo = self.pseudo_labels(inputs, cam, cls_label, img_box)
        samples = []
        for label, sample in zip(pseudo, data_samples):
            new = SegDataSample(metainfo=sample.metainfo)
            new.gt_sem_seg = PixelData(data=label[None])
            samples.append(new)
        losses = {
            f'decode.{k}': v
            for k, v in self.decode_head.loss_by_feat(seg_logits,
                                                      samples).items()
        }
        if self.reg_loss is not None:
            up = F.interpolate(
                seg_logits, size=pseudo.shape[-2:], mode='bilinear',
                align_corners=False)
            roi = torch.zeros_like(pseudo, dtype=inputs.dtype)
            for i, (y0, y1, x0, x1) in enumerate(img_box.tolist()):
                roi[i, y0:y1, x0:x1] = 1
            losses[self.reg_loss.loss_name] = self.reg_loss(
                denormalize_inputs(inputs, self.data_preprocessor), up,
                pseudo, roi)
        return losses

    @torch.no_grad()
    def pseudo_labels(self, inputs: Tensor, cam: Tensor, cls_label: Tensor,
                      img_box: Tensor) -> Tensor:
        """PAR-refined CAM labels ``[B, H, W]`` (ToCo's
        ``refine_cams_with_bkg_v2`` on ``cam * cls_label``)."""
        cfg, par = self.cam_cfg, self.par_cfg
        valid_cam = cam * cls_label[:, :, None, None]
        images = denormalize_inputs(inputs, self.data_preprocessor) / 255.

        def refine(img: Tensor, probs: Tensor) -> Tensor:
            return pixel_adaptive_refine(img, probs, par['dilations'],
                                         par['num_iter'])

        return refine_cams_with_background(
            refine, images, valid_cam, cls_label, cfg['high_thr'],
            cfg['low_thr'], self.ignore_index, img_box, par['down_scale'],
            with_background=self.with_background)

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Decoder logits resized to the (padded) input size."""
        return self.decode_head.predict(
            self.extract_feat(inputs), batch_img_metas, self.test_cfg)

    def cam_scores(self,
                   inputs: Tensor,
                   image_labels: Optional[Tensor] = None) -> Tensor:
        """CAM class scores at the input size.

        Args:
            inputs (Tensor): ``[B, 3, H, W]``.
            image_labels (Tensor, optional): ``[B, num_classes]`` labels
                (with the background column when there is one); None uses
                the classifier's (logit > ``cls_thr``).

        Returns:
            Tensor: ``[B, num_classes, H, W]``: ``bkg_thr`` for background
            (when present), the normalised CAM of present classes, 0
            for absent ones.
        """
        cam = multi_scale_cam(lambda x: self.cam_maps(x)[0], inputs,
                              self.cam_cfg['scales'])
        if image_labels is None:
            aux_map, final_map = self.extract_feat(inputs)
            cls, _ = self.classify(final_map, aux_map)
            fg = (cls > self.cls_thr).to(cam.dtype)
        else:
            fg = image_labels.to(cam)
            fg = fg[:, 1:] if self.with_background else fg
        scores = cam * fg[:, :, None, None]
        if self.with_background:
            bkg = torch.full_like(scores[:, :1], self.cam_cfg['bkg_thr'])
            scores = torch.cat([bkg, scores], dim=1)
        return scores

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Segmentation as :class:`SegDataSample` (mmseg metrics, TTA and
        visualisers use them unchanged)."""
        batch_img_metas = img_metas_for_inference(inputs, data_samples)
        if self.infer_from == 'decoder':
            seg_logits = self.encode_decode(inputs, batch_img_metas)
        else:
            labels = image_labels_for_inference(
                data_samples, self.use_gt_image_labels, inputs.device)
            seg_logits = self.cam_scores(inputs, labels)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Raw decoder logits (``mode='tensor'``)."""
        return self.decode_head.forward(self.extract_feat(inputs))


__all__ = ['ToCo', 'current_iter']
