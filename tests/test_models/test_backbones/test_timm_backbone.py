"""WSSSTimmBackbone: features-only timm model, strict local weights."""
import pytest
import torch

from wsss_mm.registry import MODELS

timm = pytest.importorskip('timm')


def _backbone(**kwargs):
    cfg = dict(type='WSSSTimmBackbone', model_name='tf_efficientnet_lite0')
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def whole(tmp_path_factory):
    """A whole timm model (classifier included) and its saved weights."""
    torch.manual_seed(0)
    model = timm.create_model('tf_efficientnet_lite0', pretrained=False)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 1.5)
            elif tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.05)
    path = tmp_path_factory.mktemp('timm') / 'lite0.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return model.eval(), path


def _blocks_until(model, x, last_stage):
    x = model.bn1(model.conv_stem(x))
    outs = []
    for blocks in model.blocks[:last_stage + 1]:
        x = blocks(x)
        outs.append(x)
    return outs


def test_outputs_and_pretrained_weights(whole):
    model, path = whole
    backbone = _backbone(
        out_indices=(2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    assert backbone.out_channels == (40, 112)
    assert backbone.out_strides == (8, 16)
    backbone.init_weights()
    assert backbone.train() is backbone and backbone.training
    backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = backbone(x)
        ref = _blocks_until(model, x, 4)
    assert isinstance(feats, tuple) and len(feats) == 2
    assert feats[0].shape == (2, 40, 8, 8)
    assert feats[1].shape == (2, 112, 4, 4)
    assert torch.equal(feats[0], ref[2])
    assert torch.equal(feats[1], ref[4])


def test_prefixed_checkpoint(whole, tmp_path):
    model, _ = whole
    path = tmp_path / 'seg.pth'
    state = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    state['decode_head.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': state}, path)
    backbone = _backbone(
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone'))
    backbone.init_weights()
    assert torch.equal(backbone.timm_model.blocks[4][2].conv_pwl.weight,
                       model.blocks[4][2].conv_pwl.weight)


def test_keys_that_do_not_fit_are_refused(whole, tmp_path):
    model, _ = whole
    state = dict(model.state_dict())
    path = tmp_path / 'w.pth'
    del state['blocks.1.0.bn2.running_mean']
    torch.save(state, path)
    backbone = _backbone(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"missing keys \['blocks\.1\.0\.bn2"
                       r"\.running_mean'\]; unexpected keys \[\]"):
        backbone.init_weights()
    state = dict(model.state_dict())
    state['blocks.1.0.bn2.extra'] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"unexpected keys \['blocks\.1\.0\."
                       r"bn2\.extra'\]"):
        _backbone(
            init_cfg=dict(type='Pretrained',
                          checkpoint=str(path))).init_weights()
    state = dict(model.state_dict())
    state['conv_stem.weight'] = torch.zeros(32, 3, 5, 5)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r'conv_stem\.weight: \(32, 3, 5, '
                       r'5\) vs model \(32, 3, 3, 3\)'):
        _backbone(
            init_cfg=dict(type='Pretrained',
                          checkpoint=str(path))).init_weights()


def test_nothing_is_downloaded(tmp_path):
    missing = tmp_path / 'efficientnet-lite0_timm.pth'
    backbone = _backbone(
        init_cfg=dict(type='Pretrained', checkpoint=str(missing)))
    with pytest.raises(FileNotFoundError) as err:
        backbone.init_weights()
    assert str(missing) in str(err.value)
    assert 'prepare_cpu_pretrained.sh' in str(err.value)
    url = _backbone(
        init_cfg=dict(type='Pretrained', checkpoint='https://x.org/w.pth'))
    with pytest.raises(ValueError, match='nothing is downloaded'):
        url.init_weights()
    for key in ('pretrained', 'checkpoint_path'):
        with pytest.raises(ValueError, match=key):
            _backbone(**{key: True if key == 'pretrained' else 'w.pth'})
