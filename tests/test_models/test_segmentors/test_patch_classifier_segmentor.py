"""PatchClassifierSegmentor: training from image labels, inference routes,
label-leakage guard, equivariance, loss going down on a fixed batch."""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_mm.registry import MODELS

EMBED = 32
NUM_CLASSES = 3


def _cfg(**kwargs):
    cfg = dict(
        type='PatchClassifierSegmentor',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[0., 0., 0.],
            std=[1., 1., 1.], size_divisor=8),
        backbone=dict(
            type='WSSSVisionTransformer',
            arch=dict(embed_dims=EMBED, num_layers=2, num_heads=2,
                      feedforward_channels=64),
            img_size=32, patch_size=8, out_indices=(0, 1),
            out_type='featmap', init_cfg=None),
        neck=dict(type='HVBiLSTM', in_channels=EMBED, hidden_channels=8,
                  dropout=0.0),
        cls_head=dict(
            type='PatchClassifierHead', in_channels=EMBED,
            num_classes=NUM_CLASSES,
            pooling=dict(type='AdaptiveKPool', k_max=6, gap=0.1),
            loss_cls=dict(type='MCELoss'),
            loss_contrast=dict(type='PatchContrastLoss', loss_weight=0.1)),
        decode_head=dict(
            type='SegformerHead', in_channels=[EMBED, EMBED],
            in_index=[0, 1], channels=16, num_classes=NUM_CLASSES,
            norm_cfg=dict(type='BN'), align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.5)),
        test_cfg=dict(mode='whole'))
    cfg.update(kwargs)
    return cfg


def _samples(labels, size=32):
    samples = []
    for lab in labels:
        s = SegDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), padding_size=[0, 0, 0, 0]))
        s.set_field(torch.tensor(lab, dtype=torch.float32),
                    'gt_image_labels')
        samples.append(s)
    return samples


def _batch():
    """Class 1 = red square top-left, class 2 = green square bottom-right,
    background grey."""
    x = torch.full((2, 3, 32, 32), 0.5)
    x[0, :, :16, :16] = torch.tensor([1., 0., 0.])[:, None, None]
    x[1, :, 16:, 16:] = torch.tensor([0., 1., 0.])[:, None, None]
    return x, _samples([[1, 1, 0], [1, 0, 1]])


def test_loss_keys_and_backward():
    model = MODELS.build(_cfg())
    x, samples = _batch()
    losses = model.loss(x, samples)
    assert {'loss_mce', 'loss_pcl', 'decode.loss_ce'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0


def test_training_reduces_loss_on_fixed_batch():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.train()
    x, samples = _batch()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    history = []
    for _ in range(30):
        losses = model.loss(x, copy.deepcopy(samples))
        total = sum(v for k, v in losses.items() if 'loss' in k)
        history.append(float(total))
        opt.zero_grad()
        total.backward()
        opt.step()
    assert sum(history[-5:]) / 5 < 0.6 * sum(history[:5]) / 5


def test_pixel_ground_truth_in_training_is_refused():
    model = MODELS.build(_cfg())
    x, samples = _batch()
    samples[0].gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32).long())
    with pytest.raises(ValueError, match='pixel ground truth'):
        model.loss(x, samples)


def test_missing_image_labels_error():
    model = MODELS.build(_cfg())
    x, samples = _batch()
    del samples[1].gt_image_labels
    with pytest.raises(KeyError, match='LoadImageLevelLabels'):
        model.loss(x, samples)


def test_decoder_prediction_shapes():
    model = MODELS.build(_cfg()).eval()
    x, samples = _batch()
    with torch.no_grad():
        out = model.predict(x, samples)
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 32, 32)
    assert out[0].pred_sem_seg.data.shape == (1, 32, 32)


def test_classifier_inference_respects_image_labels():
    model = MODELS.build(_cfg(infer_from='classifier')).eval()
    x, samples = _batch()
    with torch.no_grad():
        out = model.predict(x, samples)
    # Image 0 has labels {0, 1}: class 2 can never be predicted there.
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert set(out[1].pred_sem_seg.data.unique().tolist()) <= {0, 2}
    assert torch.all(out[0].seg_logits.data[2] == 0)
    # Without labels the pooled scores decide which classes stay.
    scores = model.classifier_scores(x, None)
    assert scores.shape == (2, NUM_CLASSES, 32, 32)


def _capture_decoder_labels(model) -> dict:
    """Record the pixel labels the decode head trains on under
    ``captured['labels']`` ``[B, H, W]``."""
    captured = {}
    original = model.decode_head.loss

    def spy(feats, samples, train_cfg):
        captured['labels'] = torch.stack(
            [s.gt_sem_seg.data[0] for s in samples])
        return original(feats, samples, train_cfg)

    model.decode_head.loss = spy
    return captured


def test_pseudo_labels_follow_the_classifier():
    """The decoder's targets are the classifier's patch argmax restricted to
    the image labels, painted on the pixels."""
    model = MODELS.build(_cfg())
    captured = _capture_decoder_labels(model)
    x, samples = _batch()
    model.loss(x, samples)
    labels = captured['labels']
    assert labels.shape == (2, 32, 32)
    assert set(labels[0].unique().tolist()) <= {0, 1}
    assert set(labels[1].unique().tolist()) <= {0, 2}
    # Constant over each 8x8 patch.
    blocks = labels.reshape(2, 4, 8, 4, 8)
    assert torch.all(blocks == blocks[:, :, :1, :, :1])


def test_equivariance_loss_enabled():
    model = MODELS.build(
        _cfg(equivariance=dict(
            loss=dict(type='EquivarianceLoss', loss_weight=1.0),
            transforms=('hflip', 'rot90'))))
    x, samples = _batch()
    losses = model.loss(x, samples)
    assert 'loss_eq' in losses and torch.isfinite(losses['loss_eq'])
    with pytest.raises(ValueError, match='unknown equivariance'):
        MODELS.build(_cfg(equivariance=dict(
            loss=dict(type='EquivarianceLoss'), transforms=('shear', ))))


def _eq_model(target_without_dropout):
    torch.manual_seed(0)
    cfg = _cfg(equivariance=dict(
        loss=dict(type='EquivarianceLoss', loss_weight=1.0),
        transforms=('hflip', ), target_without_dropout=target_without_dropout))
    cfg['neck'] = dict(cfg['neck'], dropout=0.5)
    model = MODELS.build(cfg)
    seen = {}

    def spy(pred_view1, pred_view2, image_labels, transform):
        seen.update(target=pred_view1, pred=pred_view2)
        return pred_view2.sum()

    model.equivariance.forward = spy
    return model, seen


def test_equivariance_target_without_dropout():
    """ViT-PCM's target: view 1 predicted with dropout off (the eval-mode
    forward), without gradient; the model is back in train mode after, a
    part left in eval mode on purpose stays so."""
    x, samples = _batch()
    model, seen = _eq_model(True)
    model.train()
    model.backbone.eval()  # e.g. a frozen backbone
    model.loss(x, samples)
    assert model.training and model.neck.training
    assert model.neck.dropout.training and model.cls_head.training
    assert not model.backbone.training
    assert not seen['target'].requires_grad and seen['pred'].requires_grad
    with torch.no_grad():
        model.eval()
        expected = model.cls_head(model.classifier_feat(
            model.extract_feat(x)))
    assert torch.equal(seen['target'], expected)

    # default: the training forward's prediction, with dropout
    model, seen = _eq_model(False)
    model.train()
    model.loss(x, samples)
    with torch.no_grad():
        model.eval()
        eval_probs = model.cls_head(model.classifier_feat(
            model.extract_feat(x)))
    assert seen['target'].shape == eval_probs.shape
    assert not torch.allclose(seen['target'], eval_probs)
    with pytest.raises(ValueError, match='unknown equivariance keys'):
        MODELS.build(_cfg(equivariance=dict(
            loss=dict(type='EquivarianceLoss'), target_no_dropout=True)))


def test_config_errors():
    with pytest.raises(ValueError, match='needs a decode_head'):
        MODELS.build(_cfg(decode_head=None))
    bad = _cfg()
    bad['decode_head'] = dict(bad['decode_head'], num_classes=5)
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(bad)


def _outlined_square():
    """A flat red square (pixels 16-47) on a blue 64x64 image whose patch
    scores (8x8 grid of 8-px patches) give class 1 to the square's ring of
    outline patches only and the background to its 2x2 interior patches:
    the outlines a classifier trained from scratch finds."""
    x = torch.zeros(1, 3, 64, 64)
    x[:, 2] = 255.
    x[:, :, 16:48, 16:48] = torch.tensor([255., 0., 0.])[:, None, None]
    probs = torch.zeros(1, NUM_CLASSES, 8, 8)
    probs[:, 0] = 0.9
    probs[:, 1] = 0.05
    probs[:, 2] = 0.05
    ring = torch.zeros(8, 8, dtype=torch.bool)
    ring[2:6, 2:6] = True
    ring[3:5, 3:5] = False
    probs[:, 0, ring] = 0.05
    probs[:, 1, ring] = 0.9
    return x, probs, torch.tensor([[1., 1., 0.]])


def test_par_pseudo_labels_fill_flat_interiors(monkeypatch):
    """pseudo_label_cfg.par refines the patch scores with the image's
    colours before painting: the square's flat interior, left to the
    background by the patches, joins the square; the background stays."""
    import wsss_mm.models.segmentors.patch_classifier_segmentor as pcs
    refined_sizes = []
    real_refine = pcs.pixel_adaptive_refine

    def recording_refine(images, masks, **kwargs):
        refined_sizes.append(tuple(images.shape[-2:]))
        return real_refine(images, masks, **kwargs)

    monkeypatch.setattr(pcs, 'pixel_adaptive_refine', recording_refine)
    x, probs, labels = _outlined_square()
    plain = MODELS.build(_cfg(data_preprocessor=None))
    par = MODELS.build(
        _cfg(data_preprocessor=None, pseudo_label_cfg=dict(par=dict())))
    before = plain.pseudo_labels(x, probs, labels)[0]
    after = par.pseudo_labels(x, probs, labels)[0]
    assert before.shape == after.shape == (64, 64)
    interior = (slice(24, 40), slice(24, 40))
    assert torch.all(before[interior] == 0)
    assert torch.all(after[interior] == 1)
    assert torch.all(after[16:48, 16:48] == 1)
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[12:52, 12:52] = False
    assert torch.all(after[outside] == 0)
    # At a quarter of the size (16x16 cells of 4 px) the interior fills
    # too; the labels come back at the input size.
    small = MODELS.build(
        _cfg(data_preprocessor=None,
             pseudo_label_cfg=dict(par=dict(down_scale=4))))
    quarter = small.pseudo_labels(x, probs, labels)[0]
    assert refined_sizes == [(64, 64), (16, 16)]
    assert quarter.shape == (64, 64)
    assert torch.all(quarter[16:48, 16:48] == 1)
    assert torch.all(quarter[outside] == 0)


def test_par_pseudo_labels_reach_the_decoder():
    """With par set, the decoder trains on the refined labels."""
    torch.manual_seed(0)
    model = MODELS.build(_cfg(pseudo_label_cfg=dict(par=dict())))
    captured = _capture_decoder_labels(model)
    x, samples = _batch()
    x = x * 255.
    model.loss(x, samples)
    feats = model.extract_feat(x)
    probs = model.cls_head(model.classifier_feat(feats))
    expected = model.pseudo_labels(
        x, probs, torch.tensor([[1., 1., 0.], [1., 0., 1.]]))
    assert torch.equal(captured['labels'], expected)


def test_unknown_pseudo_label_key_is_refused():
    with pytest.raises(ValueError, match='pseudo_label_cfg'):
        MODELS.build(_cfg(pseudo_label_cfg=dict(par_cfg=dict())))
