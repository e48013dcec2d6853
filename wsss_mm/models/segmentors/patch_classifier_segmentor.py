"""Single-stage WSSS segmentor built on a ViT patch classifier.

ViT-PCM and APC are both this segmentor with different parts: pooling
(global max vs adaptive-K), the patch contrastive loss, the HV-BiLSTM neck
and an optional equivariance loss. The decode head (any mmseg decode head,
SegFormer's MLP head by default) learns from patch-to-pixel pseudo-labels
made on the fly from the patch classifier, so training needs image-level
labels only.
"""
import random
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from wsss_mm.models.utils import (eval_mode, image_labels_from_views,
                                  patch_to_pixel_labels, pixel_adaptive_refine)
from wsss_mm.registry import MODELS

# Affine views for the equivariance loss, each self-contained on [.., h, w].
_VIEW_TRANSFORMS = {
    'hflip': lambda x: torch.flip(x, dims=(-1, )),
    'vflip': lambda x: torch.flip(x, dims=(-2, )),
    'rot90': lambda x: torch.rot90(x, k=1, dims=(-2, -1)),
}


def denormalize_inputs(inputs: Tensor, data_preprocessor) -> Tensor:
    """Network input back to 0-255 colours (clamped): undoes the data
    preprocessor's normalisation when it has one."""
    if getattr(data_preprocessor, '_enable_normalize', False):
        inputs = inputs * data_preprocessor.std + data_preprocessor.mean
    return inputs.clamp(0, 255)


def stack_image_labels(data_samples: SampleList) -> Tensor:
    """Stack ``gt_image_labels`` of a batch into ``[B, C]``.

    Raises:
        KeyError: a sample carries no image-level labels.
    """
    labels = []
    for sample in data_samples:
        if 'gt_image_labels' not in sample:
            raise KeyError(
                'data sample has no gt_image_labels: add '
                "dict(type='LoadImageLevelLabels') before "
                "dict(type='PackWSSSInputs') in the pipeline "
                f"(image: {sample.metainfo.get('img_path')})")
        labels.append(sample.gt_image_labels)
    return torch.stack(labels).float()


def img_metas_for_inference(inputs: Tensor,
                            data_samples: OptSampleList) -> List[dict]:
    """The samples' metainfo, or whole-image metas when there are none
    (``mode='predict'`` without data samples)."""
    if data_samples is not None:
        return [s.metainfo for s in data_samples]
    size = inputs.shape[2:]
    return [
        dict(
            ori_shape=size,
            img_shape=size,
            pad_shape=size,
            padding_size=[0, 0, 0, 0])
    ] * inputs.shape[0]


def image_labels_for_inference(data_samples: OptSampleList,
                               use_gt_image_labels: bool,
                               device: torch.device) -> Optional[Tensor]:
    """``[B, C]`` image labels to restrict predictions to.

    The ground-truth ``gt_image_labels`` when enabled and every sample
    carries them; else ``pred_image_labels`` when every sample carries
    them (labels predicted from all test-time augmentation views by
    :class:`~wsss_mm.models.segmentors.WSSSTTAModel`); else None (the
    segmentor predicts them from its input).
    """
    if not data_samples:
        return None
    if use_gt_image_labels and all('gt_image_labels' in s
                                   for s in data_samples):
        return stack_image_labels(data_samples).to(device)
    if all('pred_image_labels' in s for s in data_samples):
        return torch.stack([torch.as_tensor(s.pred_image_labels)
                            for s in data_samples]).float().to(device)
    return None


def refuse_pixel_ground_truth(data_samples: SampleList) -> None:
    """Raise if a training sample carries pixel labels (weak supervision).

    Raises:
        ValueError: a sample has ``gt_sem_seg`` (the train pipeline leaks
            masks into weak supervision).
    """
    for sample in data_samples:
        if 'gt_sem_seg' in sample:
            raise ValueError(
                'pixel ground truth (gt_sem_seg) reached a weakly '
                'supervised training step; remove LoadAnnotations from '
                f"the train pipeline ({sample.metainfo.get('img_path')})")


@MODELS.register_module()
class PatchClassifierSegmentor(BaseSegmentor):
    """ViT patch classifier + decoder trained from image-level labels.

    Args:
        backbone (dict): Backbone returning a tuple of ``[B, C, h, w]``
            feature maps (e.g. ``WSSSVisionTransformer`` with
            ``out_type='featmap'``); the last one feeds the classifier.
        cls_head (dict): ``PatchClassifierHead`` config.
        decode_head (dict, optional): mmseg decode head fusing all backbone
            levels, supervised by patch-to-pixel pseudo-labels. Its
            ``loss_decode.loss_weight`` is the segmentation loss weight.
        neck (dict, optional): Refines the classifier's patch embeddings
            (``HVBiLSTM`` in ViT-PCM/APC).
        equivariance (dict, optional): ``dict(loss=dict(type=
            'EquivarianceLoss', loss_weight=w), transforms=('hflip',
            'rot90'), target_without_dropout=False)``: a second view of
            the batch under one randomly chosen transform and ViT-PCM's
            equivariance loss. Its target is the classifier's prediction
            of the original view, detached: the training forward's (with
            dropout) by default; with ``target_without_dropout=True``, a
            separate forward of the original view in eval mode (dropout
            off, no gradient), as ViT-PCM computes it (its config sets
            it), at the cost of that extra forward pass.
        pseudo_label_cfg (dict, optional): ``ignore_thr`` (patches whose
            best allowed score is below it are ignored by the decoder) and
            ``par`` (None: each patch paints its pixels; a dict of
            :func:`~wsss_mm.models.utils.pixel_adaptive_refine` arguments
            plus ``down_scale``, ``dict()`` for ToCo's at full size: the
            patch scores are refined with the image's colour affinities at
            ``1 / down_scale`` of the input size before painting, which
            fills flat object interiors that a classifier trained from
            scratch leaves to the background; not in the papers, an option
            of this toolkit).
        infer_from (str): 'decoder' or 'classifier'.
        cls_thr (float): With ``infer_from='classifier'`` and no ground
            truth image labels, classes whose pooled score exceeds it are
            kept.
        use_gt_image_labels (bool): At inference from the classifier,
            restrict patches to the sample's ``gt_image_labels`` when
            present (pseudo-mask generation on the train split).
        data_preprocessor (dict, optional): mmseg data preprocessor.
        train_cfg, test_cfg (dict, optional): Passed to the decode head.
        pretrained (str, optional): Only ``None``, accepted because
            ``mmseg.apis.init_model`` sets it on every segmentor config;
            pretrained weights go into the backbone's ``init_cfg``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cls_head: ConfigType,
                 decode_head: OptConfigType = None,
                 neck: OptConfigType = None,
                 equivariance: OptConfigType = None,
                 pseudo_label_cfg: OptConfigType = None,
                 infer_from: str = 'decoder',
                 cls_thr: float = 0.5,
                 use_gt_image_labels: bool = True,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:
            raise ValueError(
                f'pretrained={pretrained!r} is not used by '
                f'{type(self).__name__}: set the weights in the backbone, '
                "e.g. backbone=dict(init_cfg=dict(type='Pretrained', "
                'checkpoint=FILE))')
        if infer_from not in ('decoder', 'classifier'):
            raise ValueError("infer_from must be 'decoder' or 'classifier', "
                             f'got {infer_from!r}')
        if infer_from == 'decoder' and decode_head is None:
            raise ValueError("infer_from='decoder' needs a decode_head")
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.cls_head = MODELS.build(cls_head)
        if decode_head is not None:
            self.decode_head = MODELS.build(decode_head)
            self.align_corners = self.decode_head.align_corners
            self.num_classes = self.decode_head.num_classes
            if self.num_classes != self.cls_head.num_classes:
                raise ValueError(
                    f'decode_head.num_classes ({self.num_classes}) != '
                    f'cls_head.num_classes ({self.cls_head.num_classes})')
        else:
            self.align_corners = False
            self.num_classes = self.cls_head.num_classes
        self.out_channels = self.num_classes
        self.equivariance = None
        if equivariance is not None:
            transforms = tuple(equivariance.get('transforms', ('hflip', )))
            unknown = set(transforms) - set(_VIEW_TRANSFORMS)
            if unknown:
                raise ValueError(f'unknown equivariance transforms {unknown};'
                                 f' choose from {sorted(_VIEW_TRANSFORMS)}')
            unknown = set(equivariance) - {
                'loss', 'transforms', 'target_without_dropout'}
            if unknown:
                raise ValueError(f'unknown equivariance keys {unknown}')
            self.eq_transforms = transforms
            self.eq_target_without_dropout = bool(
                equivariance.get('target_without_dropout', False))
            self.equivariance = MODELS.build(equivariance['loss'])
        self.pseudo_label_cfg = dict(pseudo_label_cfg or {})
        unknown = set(self.pseudo_label_cfg) - {'ignore_thr', 'par'}
        if unknown:
            raise ValueError(f'unknown pseudo_label_cfg keys {unknown}; '
                             "expected 'ignore_thr', 'par'")
        self.infer_from = infer_from
        self.cls_thr = cls_thr
        self.use_gt_image_labels = use_gt_image_labels
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    # ------------------------------------------------------------------
    # features
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Multi-level backbone feature maps."""
        feats = self.backbone(inputs)
        return tuple(feats)

    def classifier_feat(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Patch embeddings of the classifier (last level, refined)."""
        x = feats[-1]
        return self.neck(x) if self.with_neck else x

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict:
        """Losses from image-level labels only.

        Raises:
            ValueError: a training sample carries pixel ground truth (the
                pipeline leaks masks into weak supervision).
        """
        refuse_pixel_ground_truth(data_samples)
        image_labels = stack_image_labels(data_samples).to(inputs.device)
        feats = self.extract_feat(inputs)
        cls_feat = self.classifier_feat(feats)
        losses, probs = self.cls_head.loss(cls_feat, image_labels)

        if self.with_decode_head:
            pseudo = self.pseudo_labels(inputs, probs, image_labels)
            pseudo_samples = self._pseudo_samples(pseudo, data_samples)
            seg_losses = self.decode_head.loss(feats, pseudo_samples,
                                               self.train_cfg)
            losses.update({f'decode.{k}': v for k, v in seg_losses.items()})

        if self.equivariance is not None:
            target = probs
            if self.eq_target_without_dropout:
                target = self.classifier_probs_without_dropout(inputs)
            transform = _VIEW_TRANSFORMS[random.choice(self.eq_transforms)]
            feats2 = self.extract_feat(transform(inputs))
            probs2 = self.cls_head(self.classifier_feat(feats2))
            losses[self.equivariance.loss_name] = self.equivariance(
                target, probs2, image_labels, transform)
        return losses

    @torch.no_grad()
    def pseudo_labels(self, inputs: Tensor, probs: Tensor,
                      image_labels: Tensor) -> Tensor:
        """The decoder's pixel labels ``[B, H, W]`` from the patch scores
        ``probs`` ``[B, C, h, w]`` (PAR-refined first when
        ``pseudo_label_cfg.par`` is set)."""
        scores = probs.detach()
        par = self.pseudo_label_cfg.get('par')
        if par is not None:
            par = dict(par)
            down_scale = par.pop('down_scale', 1)
            images = denormalize_inputs(inputs, self.data_preprocessor)
            h, w = inputs.shape[-2:]
            images = F.interpolate(
                images / 255., (h // down_scale, w // down_scale),
                mode='bilinear', align_corners=False)
            scores = pixel_adaptive_refine(images, scores, **par)
        return patch_to_pixel_labels(
            scores,
            image_labels,
            tuple(inputs.shape[-2:]),
            ignore_thr=self.pseudo_label_cfg.get('ignore_thr'))

    def classifier_probs_without_dropout(self, inputs: Tensor) -> Tensor:
        """Patch probabilities ``[B, C, h, w]`` of the classifier with the
        whole model in eval mode (dropout off) and without gradient; every
        submodule's mode is restored afterwards (ViT-PCM's equivariance
        target)."""
        with torch.no_grad(), eval_mode(self):
            return self.cls_head(self.classifier_feat(
                self.extract_feat(inputs)))

    @staticmethod
    def _pseudo_samples(pseudo: Tensor,
                        data_samples: SampleList) -> SampleList:
        samples = []
        for label, sample in zip(pseudo, data_samples):
            new = SegDataSample(metainfo=sample.metainfo)
            new.gt_sem_seg = PixelData(data=label[None])
            samples.append(new)
        return samples

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Decoder logits resized to the input size."""
        feats = self.extract_feat(inputs)
        return self.decode_head.predict(feats, batch_img_metas,
                                        self.test_cfg)

    def classifier_scores(
            self,
            inputs: Tensor,
            image_labels: Optional[Tensor] = None) -> Tensor:
        """Patch-classifier class maps at the input size.

        Args:
            inputs (Tensor): Images ``[B, 3, H, W]``.
            image_labels (Tensor, optional): ``[B, C]`` multi-hot labels to
                restrict to; None predicts them from the pooled scores
                (``cls_thr``).

        Returns:
            Tensor: ``[B, C, H, W]`` probabilities, zero for excluded
            classes.
        """
        feats = self.extract_feat(inputs)
        probs = self.cls_head(self.classifier_feat(feats))
        if image_labels is None:
            image_labels = image_labels_from_views(
                [self.cls_head.pool(probs)], self.cls_thr).float()
        probs = probs * image_labels[:, :, None, None]
        return F.interpolate(
            probs, size=inputs.shape[-2:], mode='bilinear',
            align_corners=False)

    def image_label_scores(self, inputs: Tensor) -> Tensor:
        """Pooled class scores ``[B, C]`` of the classifier: the image
        labels are the classes scoring above ``cls_thr`` (averaged over the
        views under test-time augmentation)."""
        feats = self.extract_feat(inputs)
        return self.cls_head.pool(self.cls_head(self.classifier_feat(feats)))

    def predict_image_labels(self, inputs: Tensor) -> Tensor:
        """Image-level labels the classifier predicts: ``[B, C]`` multi-hot,
        classes whose pooled score exceeds ``cls_thr``."""
        return image_labels_from_views([self.image_label_scores(inputs)],
                                       self.cls_thr)

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict segmentation as :class:`SegDataSample` (mmseg metrics and
        visualisers use them unchanged)."""
        batch_img_metas = img_metas_for_inference(inputs, data_samples)
        if self.infer_from == 'decoder':
            seg_logits = self.encode_decode(inputs, batch_img_metas)
        else:
            labels = image_labels_for_inference(
                data_samples, self.use_gt_image_labels, inputs.device)
            seg_logits = self.classifier_scores(inputs, labels)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Raw decoder logits (``mode='tensor'``)."""
        feats = self.extract_feat(inputs)
        if self.with_decode_head:
            return self.decode_head.forward(feats)
        return self.cls_head(self.classifier_feat(feats))
