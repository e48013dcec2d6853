"""FrozenFeatureCache: same features as the backbone, computed once."""
import pytest
import torch

from wsss_mm.registry import MODELS


def _cache(**kwargs):
    cfg = dict(
        type='FrozenFeatureCache',
        backbone=dict(
            type='WSSSVisionTransformer',
            arch=dict(
                embed_dims=16,
                num_layers=2,
                num_heads=2,
                feedforward_channels=32),
            img_size=28,
            patch_size=14,
            out_indices=(0, 1),
            out_type='featmap',
            drop_rate=0.5,  # must not act: the backbone stays in eval
            init_cfg=None))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_outputs_match_backbone_and_are_computed_once():
    torch.manual_seed(0)
    model = _cache(cache_dtype='float32')
    model.train()
    assert not model.backbone.training
    assert not any(p.requires_grad for p in model.parameters())
    x = torch.randn(3, 3, 28, 28)
    with torch.no_grad():
        ref = model.backbone(x)
    out = model(x)
    assert [o.shape for o in out] == [(3, 16, 2, 2)] * 2
    for a, b in zip(out, ref):
        assert torch.equal(a, b)
    assert (model.hits, model.misses) == (0, 3)
    # Images 0 and 2 again with a new one: two hits, one computed.
    y = torch.stack([x[2], torch.randn(3, 28, 28), x[0]])
    calls = []
    handle = model.backbone.register_forward_hook(
        lambda m, i, o: calls.append(i[0].shape[0]))
    out2 = model(y)
    handle.remove()
    assert calls == [1]  # only the new image went through the backbone
    assert (model.hits, model.misses) == (2, 4)
    assert torch.equal(out2[1][0], ref[1][2])
    assert torch.equal(out2[1][2], ref[1][0])


def test_input_size_and_limits():
    torch.manual_seed(0)
    model = _cache(input_size=(28, 28), max_items=1)
    x = torch.randn(2, 3, 20, 20)  # resized to 28 -> a 2x2 grid
    out = model(x)
    assert not model.backbone.training
    resized = torch.nn.functional.interpolate(
        x, size=(28, 28), mode='bilinear', align_corners=False)
    with torch.no_grad():
        ref = model.backbone(resized)
    assert out[0].shape == (2, 16, 2, 2)
    # float16 storage: equal to the half-precision rounding.
    assert torch.allclose(out[1], ref[1].half().float())
    assert len(model._cache) == 1  # max_items
    model(x)
    assert (model.hits, model.misses) == (1, 3)
    with pytest.raises(ValueError, match='cache_dtype'):
        _cache(cache_dtype='int8')


def test_cache_file_shared_between_processes(tmp_path):
    torch.manual_seed(0)
    path = str(tmp_path / 'feats.pth')
    first = _cache(cache_file=path, save_every=2)
    x = torch.randn(3, 3, 28, 28)
    out = first(x)  # 3 new images >= save_every: written
    second = _cache(cache_file=path)
    second.load_state_dict(first.state_dict())
    calls = []
    second.backbone.register_forward_hook(lambda m, i, o: calls.append(1))
    again = second(x)
    assert calls == []  # all three read from the file
    assert (second.hits, second.misses) == (3, 0)
    for a, b in zip(out, again):
        assert torch.equal(a, b)
