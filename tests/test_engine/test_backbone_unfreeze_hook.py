"""BackboneUnfreezeHook / set_backbone_trainable (ViT-PCM's recipe)."""
from types import SimpleNamespace

import pytest
import torch.nn as nn

from wsss_mm.engine.hooks import BackboneUnfreezeHook, set_backbone_trainable
from wsss_mm.registry import MODELS


def _vit():
    return MODELS.build(
        dict(
            type='WSSSVisionTransformer',
            arch=dict(
                embed_dims=8,
                num_layers=4,
                num_heads=2,
                feedforward_channels=16),
            img_size=16,
            patch_size=8,
            out_type='featmap',
            init_cfg=None))


def _block_params(vit):
    return sum(p.numel() for p in vit.layers[0].parameters())


def test_set_backbone_trainable_counts():
    vit = _vit()
    per_block = _block_params(vit)
    norm = sum(p.numel() for p in vit.ln1.parameters())  # 16
    assert set_backbone_trainable(vit, 0) == 0
    assert set_backbone_trainable(vit, 1) == per_block + norm
    assert set_backbone_trainable(vit, 3) == 3 * per_block + norm
    assert not vit.layers[0].attn.qkv.weight.requires_grad
    assert vit.layers[1].attn.qkv.weight.requires_grad
    assert not vit.pos_embed.requires_grad
    assert not vit.patch_embed.projection.weight.requires_grad
    with pytest.raises(ValueError):
        set_backbone_trainable(vit, 5)


def test_hook_freezes_then_unfreezes_last_blocks():
    model = nn.Module()
    model.backbone = _vit()
    runner = SimpleNamespace(model=model, iter=0)
    hook = BackboneUnfreezeHook(frozen_iters=2, unfreeze_last=2)
    hook.before_train_iter(runner, 0)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    runner.iter = 1
    hook.before_train_iter(runner, 1)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    runner.iter = 2
    hook.before_train_iter(runner, 2)
    trainable = [
        i for i, layer in enumerate(model.backbone.layers)
        if all(p.requires_grad for p in layer.parameters())
    ]
    assert trainable == [2, 3]
