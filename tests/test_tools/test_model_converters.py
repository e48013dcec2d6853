import importlib.util
import os.path as osp

import pytest
import torch

timm = pytest.importorskip('timm')

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_converter():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters',
                    'timm_vit_to_mmpretrain.py')
    spec = importlib.util.spec_from_file_location('timm_vit_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


converter = _load_converter()


def _timm_vit(**kwargs):
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=32,
        patch_size=8,
        embed_dim=48,
        depth=2,
        num_heads=3,
        num_classes=0,
        global_pool='',
        **kwargs)
    # Random non-trivial values everywhere (timm zero-inits some biases).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def _mmpretrain_vit(img_size=32, **kwargs):
    from mmpretrain.models import VisionTransformer
    model = VisionTransformer(
        arch=dict(
            embed_dims=48, num_layers=2, num_heads=3,
            feedforward_channels=192),
        img_size=img_size,
        patch_size=8,
        out_type='raw',
        final_norm=True,
        **kwargs)
    model.eval()  # mmpretrain's train() override returns None
    return model


def test_convert_matches_timm_features():
    timm_model = _timm_vit()
    converted = converter.convert_timm_vit(timm_model.state_dict())
    mm_model = _mmpretrain_vit()
    mm_model.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = timm_model.forward_features(x)
        out = mm_model(x)[-1]
    assert out.shape == expected.shape == (2, 17, 48)
    assert torch.allclose(out, expected, atol=1e-5)


def test_convert_layer_scale_and_classifier_head():
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    timm_model = VisionTransformer(
        img_size=32,
        patch_size=8,
        embed_dim=48,
        depth=2,
        num_heads=3,
        num_classes=5,
        init_values=0.5).eval()
    converted = converter.convert_timm_vit(timm_model.state_dict())
    assert not any(k.startswith('head') for k in converted)
    mm_model = _mmpretrain_vit(layer_scale_init_value=0.1)
    mm_model.load_state_dict(converted, strict=True)
    assert torch.equal(mm_model.layers[1].ffn.gamma2.weight,
                       timm_model.blocks[1].ls2.gamma)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(
            mm_model(x)[-1], timm_model.forward_features(x), atol=1e-5)


def test_pos_embed_resize():
    state = _timm_vit().state_dict()
    converted = converter.convert_timm_vit(state, target_grid=(6, 6))
    pos = converted['pos_embed']
    assert pos.shape == (1, 1 + 36, 48)
    # The cls entry is kept unchanged.
    assert torch.equal(pos[:, 0], state['pos_embed'][:, 0])
    # Bicubic resize of the 4x4 grid to 6x6.
    grid = state['pos_embed'][:, 1:].reshape(1, 4, 4, 48).permute(0, 3, 1, 2)
    resized = torch.nn.functional.interpolate(
        grid, size=(6, 6), mode='bicubic', align_corners=False)
    assert torch.allclose(pos[0, 1:], resized.flatten(2)[0].t())
    mm_model = _mmpretrain_vit(img_size=48)
    mm_model.load_state_dict(converted, strict=True)
    assert mm_model(torch.randn(1, 3, 48, 48))[-1].shape == (1, 37, 48)
    # Same grid: untouched.
    same = converter.convert_timm_vit(state, target_grid=(4, 4))
    assert torch.equal(same['pos_embed'], state['pos_embed'])


def test_no_embed_class_gets_zero_cls_position():
    timm_model = _timm_vit(no_embed_class=True)
    state = timm_model.state_dict()
    assert state['pos_embed'].shape == (1, 16, 48)
    converted = converter.convert_timm_vit(state)
    assert converted['pos_embed'].shape == (1, 17, 48)
    assert (converted['pos_embed'][:, 0] == 0).all()
    mm_model = _mmpretrain_vit()
    mm_model.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(
            mm_model(x)[-1], timm_model.forward_features(x), atol=1e-5)


def test_unsupported_keys_raise():
    state = _timm_vit().state_dict()
    state['blocks.0.attn.q_norm.weight'] = torch.ones(16)
    with pytest.raises(ValueError, match='q_norm'):
        converter.convert_timm_vit(state)


@pytest.mark.parametrize('wrap',
                         ['raw', 'state_dict', 'model', 'ddp', 'safetensors'])
def test_cli_round_trip(tmp_path, wrap):
    state = _timm_vit().state_dict()
    src = tmp_path / 'timm.pth'
    if wrap == 'raw':
        torch.save(state, src)
    elif wrap == 'ddp':
        torch.save(
            {'state_dict': {
                f'module.{k}': v
                for k, v in state.items()
            }}, src)
    elif wrap == 'safetensors':
        safetensors_torch = pytest.importorskip('safetensors.torch')
        src = tmp_path / 'timm.safetensors'
        safetensors_torch.save_file(
            {
                k: v.contiguous()
                for k, v in state.items()
            }, str(src))
    else:
        torch.save({wrap: state, 'epoch': 3}, src)
    dst = tmp_path / 'out' / 'vit.pth'
    converter.main(
        [str(src), str(dst), '--img-size', '48', '--patch-size', '8'])
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(saved) == {'state_dict'}
    mm_model = _mmpretrain_vit(img_size=48)
    mm_model.load_state_dict(saved['state_dict'], strict=True)
    assert torch.equal(mm_model.layers[0].ffn.layers[1].weight,
                       state['blocks.0.mlp.fc2.weight'])
    # mmengine's Pretrained initialisation reads the file as well.
    pretrained = _mmpretrain_vit(
        img_size=48, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    pretrained.init_weights()
    assert torch.equal(pretrained.pos_embed, mm_model.pos_embed)
    assert torch.equal(pretrained.layers[1].attn.qkv.weight,
                       state['blocks.1.attn.qkv.weight'])


def test_cli_rejects_bad_sizes(tmp_path):
    with pytest.raises(SystemExit):
        converter.main([
            str(tmp_path / 'a.pth'),
            str(tmp_path / 'b.pth'), '--img-size', '50', '--patch-size', '16'
        ])
