"""ToCo segmentor: losses from image labels only, the iteration-based
switch of the segmentation loss, pseudo labels, inference routes."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_mm.models.segmentors import current_iter
from wsss_mm.registry import MODELS

EMBED = 32


def _cfg(**kwargs):
    cfg = dict(
        type='ToCo',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
            size_divisor=8),
        backbone=dict(
            type='ToCoVisionTransformer',
            arch=dict(embed_dims=EMBED, num_layers=3, num_heads=2,
                      feedforward_channels=64),
            img_size=32, patch_size=8, init_cfg=None),
        decode_head=dict(
            type='LargeFOVHead', channels=16, num_classes=3,
            align_corners=False,
            loss_decode=dict(type='BalancedCrossEntropyLoss',
                             loss_weight=0.1)),
        ctc=dict(
            type='ClassTokenContrastLoss',
            projector=dict(type='DINOProjector', hidden_channels=32,
                           bottleneck_channels=16, out_channels=32)),
        ctc_view_cfg=dict(num_crops=2, crop_size=16),
        par_cfg=dict(dilations=(1, 2)),
        reg_loss=dict(type='DenseEnergyLoss'),
        seg_start_iter=10,
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
    """Class 1 = bright square top-left, class 2 = dark square bottom
    right, grey background (inputs already normalised to [-1, 1])."""
    x = torch.zeros(2, 3, 32, 32)
    x[0, :, :16, :16] = 1.
    x[1, :, 16:, 16:] = -1.
    return x, _samples([[1, 1, 0], [1, 0, 1]])


def _at_iter(name, it):
    hub = MessageHub.get_instance(name)
    hub.update_info('iter', it)
    return hub


def test_current_iter_reads_the_message_hub():
    _at_iter('toco-test-iter', 1234)
    assert current_iter() == 1234


def test_losses_before_and_after_the_switch():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    x, samples = _batch()
    calls = []
    original = model.pseudo_labels

    def spy(*args):
        calls.append(1)
        return original(*args)

    model.pseudo_labels = spy
    _at_iter('toco-test-before', 10)  # ToCo: off while n_iter <= 2000
    losses = model.loss(x, copy.deepcopy(samples))
    assert set(losses) == {'loss_cls', 'loss_cls_aux', 'loss_ptc',
                           'loss_ctc', 'decode.loss_bce', 'loss_reg'}
    assert float(losses['decode.loss_bce']) == 0 and not calls
    sum(losses.values()).backward()
    assert model.decode_head.conv_seg.weight.grad.abs().sum() == 0
    model.zero_grad()
    _at_iter('toco-test-after', 11)
    losses = model.loss(x, copy.deepcopy(samples))
    assert calls and float(losses['decode.loss_bce']) > 0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the momentum projector is updated, not trained
    assert all(not p.requires_grad
               for p in model.ctc.momentum_projector.parameters())


def test_pixel_ground_truth_in_training_is_refused():
    model = MODELS.build(_cfg())
    x, samples = _batch()
    samples[0].gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32).long())
    with pytest.raises(ValueError, match='pixel ground truth'):
        model.loss(x, samples)


def test_pseudo_labels_are_par_refined_cams_of_present_classes():
    model = MODELS.build(_cfg())
    x, samples = _batch()
    labels = model.image_labels(samples, x.device)
    box = model.image_boxes(samples, x.device)
    cam = torch.zeros(2, 2, 32, 32)
    cam[0, 0, :16, :16] = 1.  # image 0: class 1 top-left
    cam[0, 1] = 1.  # class 2 is absent from image 0: never used
    cam[1, 1, 16:, 16:] = 1.
    pseudo = model.pseudo_labels(x, cam, labels, box)
    assert pseudo.shape == (2, 32, 32)
    assert set(pseudo[0].unique().tolist()) <= {0, 1, 255}
    assert (pseudo[0, 2:14, 2:14] == 1).all()
    assert (pseudo[0, 20:, 20:] == 0).all()
    assert (pseudo[1, 20:30, 20:30] == 2).all()
    assert (pseudo[1, :12, :12] == 0).all()
    # outside the image box (padding) -> ignored
    box[0, 3] = 20
    pseudo = model.pseudo_labels(x, cam, labels, box)
    assert (pseudo[0, :, 20:] == 255).all()


def test_token_labels_from_aux_cam():
    model = MODELS.build(_cfg())
    cam_aux = torch.zeros(1, 2, 32, 32)
    cam_aux[0, 0, :16, :16] = 0.9
    cam_aux[0, 0, :16, 16:] = 0.6  # uncertain band -> ignored
    labels = torch.tensor([[1., 0.]])
    box = torch.tensor([[0, 32, 0, 32]])
    tl = model.token_labels(cam_aux, labels, box, (4, 4), (32, 32))
    grid = tl.view(4, 4)
    assert (grid[:2, :2] == 1).all() and (grid[:2, 2:] == 255).all()
    assert (grid[2:] == 0).all()


def test_training_reduces_classification_loss():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.train()
    x, samples = _batch()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=2e-3)
    _at_iter('toco-test-train', 0)
    history = []
    for _ in range(15):
        losses = model.loss(x, copy.deepcopy(samples))
        history.append(float(losses['loss_cls'] + losses['loss_cls_aux']))
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
    assert sum(history[-3:]) < 0.5 * sum(history[:3])


def test_predict_from_decoder_and_from_cams():
    model = MODELS.build(_cfg())
    model.eval()
    x, samples = _batch()
    with torch.no_grad():
        out = model.predict(x, samples)
        assert out[0].seg_logits.data.shape == (3, 32, 32)
        model.infer_from = 'classifier'
        out = model.predict(x, samples)
    # CAM scores: background channel is bkg_thr, absent classes are 0
    logits = out[0].seg_logits.data
    assert torch.all(logits[0] == 0.5) and torch.all(logits[2] == 0)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert set(out[1].pred_sem_seg.data.unique().tolist()) <= {0, 2}
    # argmax = cam_to_label: class where its CAM > bkg_thr
    assert torch.equal(out[0].pred_sem_seg.data[0],
                       (logits[1] > 0.5).long())
    with torch.no_grad():
        scores = model.cam_scores(x, None)  # classifier's own labels
    assert scores.shape == (2, 3, 32, 32)


def test_no_background_variant():
    cfg = _cfg(with_background=False)
    cfg['decode_head']['loss_decode']['background_index'] = None
    model = MODELS.build(cfg)
    assert model.classifier.out_channels == 3
    x = torch.zeros(1, 3, 32, 32)
    x[0, :, :, 16:] = 1.
    samples = _samples([[1, 0, 1]])
    _at_iter('toco-test-nobg', 11)
    losses = model.loss(x, samples)
    assert float(losses['decode.loss_bce']) > 0
    cam = torch.zeros(1, 3, 32, 32)
    cam[0, 0, :, :16] = 1.
    cam[0, 2, :, 16:] = 1.
    pseudo = model.pseudo_labels(x, cam, torch.tensor([[1., 0., 1.]]),
                                 torch.tensor([[0, 32, 0, 32]]))
    assert set(pseudo.unique().tolist()) == {0, 2}
    assert (pseudo[0, :, 20:] == 2).all() and (pseudo[0, :, :12] == 0).all()
    model.eval()
    model.infer_from = 'classifier'
    with torch.no_grad():
        out = model.predict(x, samples)
    assert out[0].seg_logits.data.shape == (3, 32, 32)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 2}


def test_bad_infer_from():
    with pytest.raises(ValueError, match='infer_from'):
        MODELS.build(_cfg(infer_from='cam'))
