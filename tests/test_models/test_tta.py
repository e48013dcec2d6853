import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.models.segmentors import BaseSegmentor
from PIL import Image

import wsss_mm  # noqa: F401  (mmcv.ops shim before mmseg.models)
from wsss_mm.models.segmentors.tta import WSSSTTAModel, outputs_probabilities
from wsss_mm.registry import MODELS

TTA_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
                   'tta')
H, W = 12, 16


class PixelSegmentor(BaseSegmentor):
    """Logits are a fixed per-pixel function of the RGB colour, plus an
    optional horizontal position ramp (which breaks flip equivariance)."""

    def __init__(self, ramp: bool = False, infer_from: str = 'decoder'):
        super().__init__(data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[0, 0, 0], std=[255, 255, 255],
            bgr_to_rgb=True))
        self.conv = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.tensor([[4., -2, 0], [-2, 4, 0], [0, -2, 4]])[...,
                                                                   None,
                                                                   None])
            self.conv.bias.zero_()
        self.ramp = ramp
        self.infer_from = infer_from
        self.align_corners = False
        self.out_channels = 3

    def encode_decode(self, inputs, batch_img_metas):
        logits = self.conv(inputs)
        if self.ramp:
            w = inputs.shape[-1]
            x = torch.arange(w, dtype=inputs.dtype) / w
            logits = torch.stack([
                torch.full_like(logits[:, 0], 0.48),
                x.expand_as(logits[:, 0]),
                torch.full_like(logits[:, 0], -1.)
            ], 1)
        return logits

    def predict(self, inputs, data_samples=None):
        return self.postprocess_result(
            self.encode_decode(inputs, None), data_samples)

    def extract_feat(self, inputs):
        return inputs

    def loss(self, inputs, data_samples):
        return {}

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs, None)


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.png')
    Image.fromarray(img).save(path)
    return path


def _flip_pipeline(scale_factors=(1.0, )):
    return [
        dict(type='LoadImageFromFile'),
        dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='Resize', scale_factor=s, keep_ratio=True)
                for s in scale_factors
            ],
                        [
                            dict(type='RandomFlip', prob=0.,
                                 direction='horizontal'),
                            dict(type='RandomFlip', prob=1.,
                                 direction='horizontal')
                        ], [dict(type='PackSegInputs')]])
    ]


def _run_tta(tta, path, pipeline):
    data = Compose(pipeline)(dict(img_path=path))
    with torch.no_grad():
        return tta.test_step(pseudo_collate([data]))[0]


def _run_plain(model, path):
    data = Compose([dict(type='LoadImageFromFile'),
                    dict(type='PackSegInputs')])(dict(img_path=path))
    with torch.no_grad():
        return model.test_step(pseudo_collate([data]))[0]


def test_flip_tta_of_equivariant_model_equals_plain(image_file):
    model = PixelSegmentor()
    plain = _run_plain(model, image_file)
    for merge in ('mean', 'max'):
        tta = WSSSTTAModel(module=model, merge=merge)
        out = _run_tta(tta, image_file, _flip_pipeline())
        assert out.seg_logits.data.shape == (3, H, W)
        torch.testing.assert_close(out.seg_logits.data,
                                   plain.seg_logits.data.softmax(0))
        assert torch.equal(out.pred_sem_seg.data, plain.pred_sem_seg.data)
        assert out.img_path == image_file
    # classifier outputs are probabilities: no softmax on top
    clf = PixelSegmentor(infer_from='classifier')
    tta = WSSSTTAModel(module=clf)
    assert tta.activation_name(clf) == 'none'
    assert outputs_probabilities(clf) is True
    assert outputs_probabilities(tta) is True
    assert outputs_probabilities(model) is False
    assert outputs_probabilities(WSSSTTAModel(module=model)) is True
    assert outputs_probabilities(
        WSSSTTAModel(module=model, activation='none')) is False
    out = _run_tta(tta, image_file, _flip_pipeline())
    torch.testing.assert_close(out.seg_logits.data, plain.seg_logits.data)


def test_multiscale_tta_close_to_plain(image_file):
    model = PixelSegmentor()
    plain = _run_plain(model, image_file)
    tta = WSSSTTAModel(module=model, merge='max', flip_merge='sum',
                       activation='none')
    out = _run_tta(tta, image_file, _flip_pipeline((1.0, 2.0)))
    assert out.seg_logits.data.shape == (3, H, W)
    # scale 1 pair summed = 2 x plain; upsampled copies only blur it
    agree = (out.pred_sem_seg.data == plain.pred_sem_seg.data).float()
    assert agree.mean() > 0.8


def test_mean_and_max_differ_on_non_equivariant_model(image_file):
    """Class 1 logit = x / W, class 0 = 0.48. The flipped copy, flipped
    back, gives (W - 1 - x) / W: the mean is (W - 1) / 2W < 0.48 -> class
    0 everywhere, the max is >= 0.5 > 0.48 -> class 1 everywhere."""
    model = PixelSegmentor(ramp=True)
    pipeline = _flip_pipeline()
    for merge, expected in (('mean', 0), ('max', 1)):
        tta = WSSSTTAModel(module=model, merge=merge, activation='none')
        out = _run_tta(tta, image_file, pipeline)
        assert (out.pred_sem_seg.data == expected).all(), merge
    tta = WSSSTTAModel(module=model, merge='mean', activation='none')
    x = torch.arange(W) / W
    ref = (x + x.flip(0)) / 2
    torch.testing.assert_close(
        _run_tta(tta, image_file, pipeline).seg_logits.data[1],
        ref.expand(H, W))


def test_scale_grouping_follows_toco():
    """Flip pairs are merged within a scale, then scales."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    def sample(value, shape):
        s = SegDataSample(metainfo=dict(img_shape=shape))
        s.seg_logits = PixelData(data=torch.full((2, 2, 2), value))
        return s

    samples = [sample(1., (4, 4)), sample(3., (4, 4)),
               sample(2.5, (8, 8)), sample(2., (8, 8))]
    toco = WSSSTTAModel(module=PixelSegmentor(), activation='none',
                        flip_merge='sum', merge='max')
    assert toco.merge_logits(samples)[0, 0, 0] == 4.5  # max(1+3, 2.5+2)
    mean = WSSSTTAModel(module=PixelSegmentor(), activation='none')
    assert mean.merge_logits(samples)[0, 0, 0] == pytest.approx(2.125)
    with pytest.raises(ValueError, match='merge'):
        WSSSTTAModel(module=PixelSegmentor(), merge='median')


@pytest.mark.parametrize('name,merge,n_copies', [
    ('vitpcm_960_flip.py', 'mean', 2),
    ('apc_960_flip.py', 'mean', 2),
    ('toco_ms_flip.py', 'max', 6),
])
def test_tta_configs_build_and_run(name, merge, n_copies, image_file):
    cfg = Config.fromfile(osp.join(TTA_DIR, name))
    tta = MODELS.build(dict(cfg.tta_model, module=PixelSegmentor()))
    assert isinstance(tta, WSSSTTAModel) and tta.merge == merge
    data = Compose(cfg.tta_pipeline[:1] + [
        dict(cfg.tta_pipeline[1],
             transforms=[t for t in cfg.tta_pipeline[1]['transforms']
                         if 'Annotations' not in t[0]['type']])
    ])(dict(img_path=image_file))
    assert len(data['inputs']) == n_copies
    shapes = {tuple(x.shape[-2:]) for x in data['inputs']}
    if 'toco' in name:
        assert shapes == {(12, 16), (15, 20), (18, 24)}
    else:
        assert shapes == {(960, 960)}
    with torch.no_grad():
        out = tta.test_step(pseudo_collate([data]))[0]
        # The same model on the first view alone (not flipped): for a
        # flip-equivariant model at one scale, TTA must not change it.
        single = tta.module.test_step(pseudo_collate([dict(
            inputs=data['inputs'][0],
            data_samples=data['data_samples'][0])]))[0]
    pred = out.pred_sem_seg.data
    assert pred.shape == (1, H, W)
    if 'toco' not in name:
        agree = (pred == single.pred_sem_seg.data).float().mean().item()
        assert agree >= 0.97, agree


class HalfClassifier(PixelSegmentor):
    """Infers from a 'classifier' with predicted image labels, as
    PatchClassifierSegmentor does: the class scores of an input are
    ``[1, mean R, mean G]`` of its left half (RGB in 0..1); its class maps
    are 1/3 everywhere, zeroed for classes outside the image labels
    (``image_labels_for_inference``, else its own prediction)."""

    cls_thr = 0.4
    use_gt_image_labels = True

    def __init__(self):
        super().__init__(infer_from='classifier')

    def image_label_scores(self, inputs):
        left = inputs[..., :inputs.shape[-1] // 2]
        rg = left[:, :2].mean(dim=(2, 3))
        return torch.cat([torch.ones_like(rg[:, :1]), rg], dim=1)

    def predict(self, inputs, data_samples=None):
        from wsss_mm.models.segmentors.patch_classifier_segmentor import \
            image_labels_for_inference
        labels = image_labels_for_inference(data_samples,
                                            self.use_gt_image_labels,
                                            inputs.device)
        if labels is None:
            labels = (self.image_label_scores(inputs) > self.cls_thr).float()
        maps = torch.full((inputs.shape[0], 3) + inputs.shape[-2:], 1 / 3)
        return self.postprocess_result(maps * labels[:, :, None, None],
                                       data_samples)


def test_predicted_image_labels_come_from_all_views(tmp_path):
    """Left half red, right half green. Not flipped, the left half scores
    [1, 1, 0] (labels {0, 1} with cls_thr 0.4); flipped, [1, 0, 1]
    (labels {0, 2}). Averaged over the two views: [1, 0.5, 0.5], labels
    {0, 1, 2}, which every view is then restricted to."""
    from wsss_mm.apis.pseudo_labels import _predicted_labels
    from wsss_mm.models.segmentors.tta import image_labels_over_views
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :W // 2, 0] = 255
    img[:, W // 2:, 1] = 255
    path = str(tmp_path / 'halves.png')
    Image.fromarray(img).save(path)
    model = HalfClassifier()
    data = Compose(_flip_pipeline())(dict(img_path=path))
    first = dict(inputs=data['inputs'][0],
                 data_samples=data['data_samples'][0])
    with torch.no_grad():
        # the first view alone
        assert _predicted_labels(model, first).tolist() == [1, 1, 0]
        assert _run_plain(model, path).seg_logits.data[2].max() == 0
        # all views: wrapped in the TTA model (tools/test.py --crf) or not
        tta = WSSSTTAModel(module=model)
        for m in (tta, model):
            assert _predicted_labels(m, data).tolist() == [1, 1, 1]
        assert image_labels_over_views(
            model, pseudo_collate([data])).tolist() == [[1, 1, 1]]
        # the runner's --tta path: every copy restricted to {0, 1, 2}
        out = tta.test_step(pseudo_collate([data]))[0]
    torch.testing.assert_close(out.seg_logits.data,
                               torch.full((3, H, W), 1 / 3))
    # ground-truth image labels, when used, are not replaced
    data = Compose(_flip_pipeline())(dict(img_path=path))
    for sample in data['data_samples']:
        sample.gt_image_labels = torch.tensor([1., 1., 0.])
    with torch.no_grad():
        out = tta.test_step(pseudo_collate([data]))[0]
    torch.testing.assert_close(out.seg_logits.data[2], torch.zeros(H, W))
    torch.testing.assert_close(out.seg_logits.data[1],
                               torch.full((H, W), 1 / 3))
