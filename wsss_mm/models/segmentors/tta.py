"""Test-time augmentation that merges seg logits by mean or max.

Plumbing is mmseg's: ``tools/test.py --tta`` replaces the test pipeline by
``tta_pipeline`` (a ``TestTimeAug`` transform yielding one copy per scale
and flip) and wraps ``model`` in ``tta_model``. Every copy goes through the
wrapped segmentor's ``test_step``, whose ``postprocess_result`` already
undoes the flip and resizes the logits to the original image size, so this
model only merges ``seg_logits``: it works for any segmentor, decoder or
patch-classifier outputs alike.

A segmentor that infers from its classifier with predicted image labels
(``infer_from='classifier'`` and ``image_label_scores``, e.g.
``PatchClassifierSegmentor``) would predict the labels of each copy from
that copy alone. :class:`WSSSTTAModel` first predicts them once per image
from all copies (:func:`image_labels_over_views`: the mean of the copies'
class scores, then the segmentor's ``cls_thr``) and every copy is
restricted to those labels.
"""
from collections import OrderedDict
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.utils import SampleList
from torch import Tensor

from wsss_mm.models.utils import image_labels_from_views
from wsss_mm.registry import MODELS

_REDUCTIONS = ('mean', 'max', 'sum')
_ACTIVATIONS = ('auto', 'softmax', 'sigmoid', 'none')


def outputs_probabilities(model: nn.Module) -> bool:
    """Whether ``model``'s ``seg_logits`` are already probabilities.

    True for a patch-classifier segmentor inferring from its classifier
    (``infer_from='classifier'``: softmax scores, absent classes zeroed)
    and for a :class:`WSSSTTAModel` that applies an activation before
    merging or wraps such a segmentor (merged by sum they are scores that
    need renormalising, not logits); False for raw decoder logits.
    """
    if isinstance(model, WSSSTTAModel):
        return (model.activation_name(model.module) != 'none'
                or outputs_probabilities(model.module))
    return getattr(model, 'infer_from', None) == 'classifier'


def split_views(data: dict) -> List[dict]:
    """A test-time augmentation batch (``{'inputs': [view][image], ...}``,
    as ``TestTimeAug`` and ``pseudo_collate`` make it) as one batch per
    view, as :meth:`mmengine.model.BaseTTAModel.test_step` splits it."""
    num_views = len(data[next(iter(data))])
    return [{key: value[i] for key, value in data.items()}
            for i in range(num_views)]


def image_labels_over_views(module: nn.Module, data: dict) -> Tensor:
    """Image labels predicted from all views of a test-time augmentation
    batch.

    Each view goes through ``module``'s data preprocessor and
    ``module.image_label_scores`` (pooled class scores ``[B, C]``); the
    scores are averaged over the views and thresholded with
    ``module.cls_thr`` (:func:`wsss_mm.models.utils.image_labels_from_views`).

    Args:
        module (nn.Module): A segmentor with ``image_label_scores`` and
            ``cls_thr`` (``PatchClassifierSegmentor``).
        data (dict): ``{'inputs': [view][image], 'data_samples': ...}``.

    Returns:
        Tensor: ``[B, C]`` multi-hot labels.

    Raises:
        ValueError: ``module`` predicts no image labels.
    """
    if not hasattr(module, 'image_label_scores'):
        raise ValueError(
            f'{type(module).__name__} predicts no image labels: use '
            "image_labels='gt' (an oracle off the train split) or 'none'")
    scores = []
    for view in split_views(data):
        batch = module.data_preprocessor(view, False)
        scores.append(module.image_label_scores(batch['inputs']))
    return image_labels_from_views(scores, module.cls_thr)


def _reduce(x: Tensor, how: str) -> Tensor:
    if how == 'mean':
        return x.mean(dim=0)
    if how == 'max':
        return x.max(dim=0)[0]
    return x.sum(dim=0)


@MODELS.register_module()
class WSSSTTAModel(BaseTTAModel):
    """Merge the seg logits of augmented copies of each image.

    Copies of one image are grouped by their network input shape
    (``img_shape``): copies of the same scale (e.g. a flip pair) are
    merged with ``flip_merge``, then the scales with ``merge``.

    - mmseg's ``SegTTAModel``: ``merge='mean'`` (softmax, mean of all).
    - ToCo / FSR: ``activation='none', flip_merge='sum', merge='max'``
      (flip pair summed, max over scales, on raw logits).
    - ViT-PCM / APC: one scale (960) with flip, ``merge='mean'``.

    The merged scores are stored as ``seg_logits`` (probabilities when an
    activation was applied, see :func:`outputs_probabilities`) and their
    argmax as ``pred_sem_seg``; ground truth fields and the metainfo of the
    first copy are kept.

    Args:
        module (dict | nn.Module): The segmentor.
        merge (str): 'mean', 'max' or 'sum' over scales.
        flip_merge (str, optional): The same choices over the copies of one
            scale; None uses ``merge``.
        activation (str): Applied to each copy before merging: 'softmax',
            'sigmoid', 'none', or 'auto' (none when the module outputs
            probabilities, i.e. infers from a patch classifier; sigmoid for
            one output channel; softmax otherwise).
        data_preprocessor (dict | nn.Module, optional): Overrides the
            module's data preprocessor.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 merge: str = 'mean',
                 flip_merge: Optional[str] = None,
                 activation: str = 'auto',
                 data_preprocessor: Union[dict, nn.Module, None] = None):
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        flip_merge = merge if flip_merge is None else flip_merge
        for name, value, choices in (('merge', merge, _REDUCTIONS),
                                     ('flip_merge', flip_merge, _REDUCTIONS),
                                     ('activation', activation,
                                      _ACTIVATIONS)):
            if value not in choices:
                raise ValueError(f'{name} must be one of {choices}, got '
                                 f'{value!r}')
        self.merge = merge
        self.flip_merge = flip_merge
        self.activation = activation

    def test_step(self, data: dict) -> SampleList:
        """Predict every copy with the wrapped segmentor and merge.

        When the segmentor infers from its classifier with predicted image
        labels, the labels of each image are first predicted from all its
        copies (:func:`image_labels_over_views`) and stored in the copies'
        data samples as ``pred_image_labels``, which the segmentor then
        restricts to instead of each copy's own prediction.
        """
        if isinstance(data, dict) and self._predicts_image_labels(data):
            labels = image_labels_over_views(self.module, data)
            for samples in data['data_samples']:
                for sample, label in zip(samples, labels):
                    sample.pred_image_labels = label
        return super().test_step(data)

    def _predicts_image_labels(self, data: dict) -> bool:
        """Whether the module predicts the image labels of ``data``."""
        module = self.module
        if (getattr(module, 'infer_from', None) != 'classifier'
                or not hasattr(module, 'image_label_scores')):
            return False
        samples = [s for view in data.get('data_samples') or [] for s in view]
        uses_gt = getattr(module, 'use_gt_image_labels', False) and all(
            'gt_image_labels' in s for s in samples)
        return not uses_gt

    def activation_name(self, module: nn.Module) -> str:
        """The activation actually applied ('softmax', 'sigmoid', 'none')."""
        if self.activation != 'auto':
            return self.activation
        if getattr(module, 'infer_from', None) == 'classifier':
            return 'none'
        if getattr(module, 'out_channels', 2) == 1:
            return 'sigmoid'
        return 'softmax'

    def _activate(self, logits: Tensor) -> Tensor:
        act = self.activation_name(self.module)
        if act == 'softmax':
            return logits.softmax(dim=0)
        if act == 'sigmoid':
            return logits.sigmoid()
        return logits

    def merge_logits(self, data_samples: SampleList) -> Tensor:
        """Merged ``(C, H, W)`` scores of the copies of one image."""
        groups = OrderedDict()
        for sample in data_samples:
            key = tuple(sample.metainfo.get('img_shape', ()))
            groups.setdefault(key, []).append(
                self._activate(sample.seg_logits.data))
        per_scale = [
            _reduce(torch.stack(copies), self.flip_merge)
            for copies in groups.values()
        ]
        return _reduce(torch.stack(per_scale), self.merge)

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the predictions of the copies of each image.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, the
                predictions of its augmented copies.

        Returns:
            list[SegDataSample]: One merged prediction per image.
        """
        predictions = []
        for data_samples in data_samples_list:
            first = data_samples[0]
            logits = self.merge_logits(data_samples)
            if logits.shape[0] > 1:
                pred = logits.argmax(dim=0, keepdim=True)
            else:
                thr = getattr(
                    getattr(self.module, 'decode_head', None), 'threshold',
                    0.5)
                if self.activation_name(self.module) == 'none':
                    logits_for_thr = logits.sigmoid()
                else:
                    logits_for_thr = logits
                pred = (logits_for_thr > thr).to(logits)
            out = SegDataSample(metainfo=first.metainfo)
            out.seg_logits = PixelData(data=logits)
            out.pred_sem_seg = PixelData(data=pred)
            for field in ('gt_sem_seg', 'gt_image_labels'):
                if field in first:
                    out.set_field(getattr(first, field), field)
            predictions.append(out)
        return predictions
