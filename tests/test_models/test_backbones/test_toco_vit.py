"""ToCoVisionTransformer: tokens match mmpretrain's ViT, the patch mask
acts before the positional embedding, CAMs, checkpoints and errors."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import VisionTransformer

from wsss_mm.registry import MODELS

ARCH = dict(embed_dims=16, num_layers=3, num_heads=2, feedforward_channels=32)


def _vit(**kw):
    cfg = dict(type='ToCoVisionTransformer', arch=ARCH, img_size=32,
               patch_size=8, init_cfg=None)
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.eval()
    return model


def test_tokens_match_mmpretrain_vit():
    torch.manual_seed(0)
    vit = _vit()
    ref = VisionTransformer(arch=ARCH, img_size=32, patch_size=8,
                            out_indices=(0, 2), out_type='raw')
    ref.eval()
    ref.load_state_dict(vit.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = vit.forward_tokens(x)
        raw_aux, raw_final = ref(x)
    # aux = raw output of block -3 (here block 0), final = normed last
    assert torch.allclose(out['aux_tokens'], raw_aux[:, 1:], atol=1e-6)
    assert torch.allclose(out['tokens'], raw_final[:, 1:], atol=1e-6)
    assert torch.allclose(out['cls_token'], raw_final[:, 0], atol=1e-6)
    assert out['patch_resolution'] == (4, 4)
    aux_map, final_map = vit(x)
    assert final_map.shape == (2, 16, 4, 4)
    # row-major: token 5 is grid cell (1, 1)
    assert torch.allclose(final_map[:, :, 1, 1], out['tokens'][:, 5])


def test_patch_mask_replaces_embedding_before_pos_embed():
    torch.manual_seed(0)
    vit = _vit(with_mask_token=True)
    vit.init_weights()
    x = torch.randn(1, 3, 32, 32)
    x2 = x.clone()
    x2[..., :8, :8] = 5.  # only patch 0 differs
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[0, 0] = True
    with torch.no_grad():
        a = vit.forward_tokens(x, mask)['tokens']
        b = vit.forward_tokens(x2, mask)['tokens']
        c = vit.forward_tokens(x2)['tokens']
        d = vit.forward_tokens(x)['tokens']
    assert torch.allclose(a, b, atol=1e-6)  # masked content is invisible
    assert not torch.allclose(c, d, atol=1e-3)
    # the masked position still gets its positional embedding: two masked
    # positions have different outputs
    mask[0, 7] = True
    with torch.no_grad():
        e = vit.forward_tokens(x, mask)['tokens']
    assert not torch.allclose(e[0, 0], e[0, 7], atol=1e-3)
    with pytest.raises(ValueError, match='does not match'):
        vit.forward_tokens(x, mask[:, :4])
    with pytest.raises(ValueError, match='with_mask_token'):
        _vit().forward_tokens(x, mask)


def test_class_activation_maps():
    vit = _vit()
    x = torch.randn(1, 3, 32, 32)
    w = torch.randn(3, 16, 1, 1)
    wa = torch.randn(3, 16, 1, 1)
    with torch.no_grad():
        cam, cam_aux = vit.class_activation_maps(x, w, wa)
        aux_map, final_map = vit(x)
    assert torch.allclose(cam, F.conv2d(final_map, w), atol=1e-6)
    assert torch.allclose(cam_aux, F.conv2d(aux_map, wa), atol=1e-6)


def test_pretrained_checkpoint_loads_and_missing_file_error(tmp_path):
    """An mmpretrain ViT checkpoint (as APC uses) loads, the position
    embedding is resized to the new input size; a missing file names
    itself and the converter."""
    torch.manual_seed(1)
    src = VisionTransformer(arch=ARCH, img_size=16, patch_size=8)
    path = tmp_path / 'vit.pth'
    torch.save(src.state_dict(), path)
    vit = _vit(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    vit.init_weights()
    assert torch.equal(vit.layers[1].ffn.layers[1].weight,
                       src.layers[1].ffn.layers[1].weight)
    assert vit.pos_embed.shape == (1, 17, 16)
    missing = _vit(init_cfg=dict(type='Pretrained',
                                 checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        missing.init_weights()


def test_layer_scale_and_patch14_dinov2_style():
    vit = _vit(patch_size=14, img_size=56, layer_scale_init_value=1e-5)
    with torch.no_grad():
        aux_map, final_map = vit(torch.randn(1, 3, 56, 56))
    assert final_map.shape == (1, 16, 4, 4)
    gamma = vit.layers[0].attn.gamma1.weight
    assert torch.allclose(gamma, torch.full_like(gamma, 1e-5))


def test_bad_aux_layer():
    with pytest.raises(ValueError, match='aux_layer'):
        _vit(aux_layer=-4)
