"""The FSR segmentor: two-view losses, the EMA teacher, masking phases and
prediction."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from wsss_test_utils import REPO_ROOT

from wsss_mm.registry import MODELS

DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'fsr',
                    'fsr_vit-tiny-p8_1xb8-cpu_demo-shapes-128x128.py')


def _model(**overrides):
    cfg = copy.deepcopy(Config.fromfile(DEMO_CFG).model)
    cfg.backbone.arch = dict(
        embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64)
    cfg.decode_head.channels = 16
    cfg.projector.update(
        hidden_channels=32, bottleneck_channels=16, out_channels=24)
    cfg.par_cfg = dict(dilations=(1, 2), num_iter=2)
    cfg.max_iters = 10
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _samples(labels):
    out = []
    for lab in labels:
        s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                        pad_shape=(64, 64),
                                        ori_shape=(64, 64)))
        s.gt_image_labels = torch.tensor(lab, dtype=torch.float32)
        out.append(s)
    return out


def _views(b=2, size=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, size, size, generator=g) for _ in range(2)]


@pytest.fixture(autouse=True)
def _fresh_hub():
    hub = MessageHub.get_current_instance()
    old = dict(hub.runtime_info)
    hub.update_info('iter', 0)
    hub.pop_info('max_iters', None)
    yield hub
    hub._runtime_info = old


def _teacher_state(model):
    return {k: v.clone() for k, v in model.teacher.state_dict().items()}


def test_losses_gradients_and_untouched_teacher(_fresh_hub):
    model = _model()
    model.train()
    assert not model.teacher.training
    before = _teacher_state(model)
    # the teacher starts as a copy of the student
    for k, v in model.student_parts().state_dict().items():
        torch.testing.assert_close(before['module.' + k], v)
    _fresh_hub.update_info('iter', 5)  # before seg_start_iter (100)
    losses = model.loss(_views(), _samples([[0, 1, 0, 1], [0, 0, 1, 0]]))
    assert set(losses) == {
        'loss_cls', 'loss_cls_aux', 'loss_ptc', 'decode.loss_bce',
        'loss_reg', 'loss_fsr_cls', 'loss_fsr_patch'
    }
    for v in losses.values():
        assert torch.isfinite(v)
    assert losses['loss_fsr_cls'] > 0 and losses['loss_fsr_patch'] > 0
    sum(losses.values()).backward()
    for name, p in model.teacher.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    assert model.aggregator.cls_token.grad.abs().sum() > 0
    assert model.projector.last_weight.grad.abs().sum() > 0
    assert model.backbone.mask_token.grad.abs().sum() > 0
    # forward never moves the teacher; it moves the centres
    for k, v in _teacher_state(model).items():
        assert torch.equal(v, before[k]), k
    assert model.loss_fsr.class_center.abs().sum() > 0


def test_update_teacher_is_ema():
    model = _model()
    t0 = model.teacher.module.projector.last_weight.clone()
    with torch.no_grad():
        model.projector.last_weight.add_(1.0)
    s = model.projector.last_weight.clone()
    model.update_teacher(0.75)
    torch.testing.assert_close(model.teacher.module.projector.last_weight,
                               0.75 * t0 + 0.25 * s)
    model.update_teacher(1.0)  # momentum 1: frozen
    torch.testing.assert_close(model.teacher.module.projector.last_weight,
                               0.75 * t0 + 0.25 * s)
    with pytest.raises(ValueError, match='momentum'):
        model.update_teacher(1.5)
    keys = model.state_dict().keys()
    assert 'teacher.module.backbone.mask_token' in keys
    assert 'teacher.module.projector.last_weight' in keys
    assert {'loss_fsr.class_center', 'loss_fsr.patch_center'} <= set(keys)


def test_mask_phase_switch_from_iteration(_fresh_hub, monkeypatch):
    model = _model()
    calls = []
    real = model.cams

    def counting(x):
        calls.append(x.shape)
        return real(x)

    monkeypatch.setattr(model, 'cams', counting)
    labels = torch.tensor([[0., 1., 1.], [1., 0., 0.]])
    view = _views()[1]
    # max_iters 10: iterations 0 and 1 random (int(10 * 0.2) = 2)
    m0 = model.view_mask(view, labels, 1, 10)
    assert calls == []
    m1 = model.view_mask(view, labels, 2, 10)
    assert len(calls) == 1
    # 64 px, patch 8: 8x8 patches; 32 px blocks: 2x2 blocks, 2 masked
    assert m0.shape == m1.shape == (2, 64)
    assert m0.sum(1).tolist() == [32, 32] == m1.sum(1).tolist()
    # seeded by the iteration: the same iteration gives the same mask
    assert torch.equal(model.view_mask(view, labels, 1, 10), m0)
    assert not torch.equal(model.view_mask(view, labels, 0, 10), m0) or \
        not torch.equal(model.view_mask(view, labels, 7, 10), m1)


def test_refuses_one_view_and_pixel_labels():
    model = _model()
    samples = _samples([[0, 1, 0, 0]])
    with pytest.raises(ValueError, match='two views'):
        model.loss(_views(b=1)[0], samples)
    samples[0].gt_sem_seg = PixelData(
        data=torch.zeros(1, 64, 64, dtype=torch.long))
    with pytest.raises(ValueError, match='pixel ground truth'):
        model.loss(_views(b=1), samples)


def test_seg_loss_switches_on_after_start(_fresh_hub):
    model = _model(seg_start_iter=3)
    views, samples = _views(), _samples([[0, 1, 0, 1], [0, 0, 1, 0]])
    _fresh_hub.update_info('iter', 3)
    off = model.loss(views, samples)
    assert off['decode.loss_bce'].item() == 0.0
    _fresh_hub.update_info('iter', 4)
    on = model.loss(views, samples)
    assert on['decode.loss_bce'].item() > 0.0


def test_fsr_losses_stop_at_fsr_iters(_fresh_hub):
    """fsr_iters=3: at iteration 2 the losses are those of a model without
    the switch (fsr_iters=None, same weights); at 3 they are 0 and the
    projector (used by the FSR losses only) gets zero gradients."""
    views, samples = _views(), _samples([[0, 1, 0, 1], [0, 0, 1, 0]])
    model = _model(fsr_iters=3)
    reference = _model()
    assert model.fsr_iters == 3 and reference.fsr_iters is None
    for it in (2, 3):
        _fresh_hub.update_info('iter', it)
        torch.manual_seed(it)
        got = model.loss(views, samples)
        torch.manual_seed(it)
        ref = reference.loss(views, samples)
        assert got.keys() == ref.keys()
        model.zero_grad()
        sum(got.values()).backward()
        grad = model.projector.last_weight.grad.abs().sum()
        fsr_keys = ('loss_fsr_cls', 'loss_fsr_patch')
        for key in got:
            if it == 3 and key in fsr_keys:
                assert got[key].item() == 0.0 < ref[key].item(), key
            else:
                torch.testing.assert_close(got[key], ref[key], rtol=0,
                                           atol=0)
        assert (grad > 0) if it == 2 else (grad == 0)
    with pytest.raises(ValueError, match='fsr_iters'):
        _model(fsr_iters=-1)


@pytest.mark.parametrize('infer_from', ['decoder', 'classifier'])
def test_predict_returns_seg_data_samples(infer_from):
    model = _model(infer_from=infer_from)
    model.eval()
    samples = _samples([[0, 1, 0, 0]])
    with torch.no_grad():
        out = model.predict(_views(b=1)[0], samples)
    assert isinstance(out[0], SegDataSample)
    assert out[0].seg_logits.data.shape == (4, 64, 64)
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)
    if infer_from == 'classifier':  # only background and the image's class
        assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
