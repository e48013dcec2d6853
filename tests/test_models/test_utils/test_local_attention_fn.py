"""local_attention_mask and the ViT's local attention option."""
import pytest
import torch

from wsss_mm.models.utils import local_attention_mask
from wsss_mm.registry import MODELS


def test_mask_hand_computed():
    # Grid 2x3 (patches 0 1 2 / 3 4 5), radius 1, one CLS token first.
    mask = local_attention_mask((2, 3), 1, num_extra_tokens=1)
    assert mask.shape == (7, 7) and mask.dtype == torch.bool
    assert mask[0].all()  # CLS attends everything
    assert not mask[1:, 0].any()  # no patch attends CLS
    patches = mask[1:, 1:].int()
    expected = torch.tensor([
        [1, 1, 0, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
        [0, 1, 1, 0, 1, 1],
        [1, 1, 0, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
        [0, 1, 1, 0, 1, 1],
    ])
    assert torch.equal(patches, expected)
    # Radius 0: each patch sees itself only; no extra tokens.
    assert torch.equal(local_attention_mask((2, 2), 0, 0), torch.eye(4) > 0)
    with pytest.raises(ValueError):
        local_attention_mask((2, 2), -1)


def test_vit_local_attention_limits_receptive_field():
    """2 layers of radius 1: a change in the top-left patch reaches
    patches at most 2 grid steps away, and nothing else."""
    torch.manual_seed(0)
    vit = MODELS.build(
        dict(
            type='WSSSVisionTransformer',
            arch=dict(
                embed_dims=16,
                num_layers=2,
                num_heads=2,
                feedforward_channels=32),
            img_size=32,
            patch_size=8,
            out_type='featmap',
            local_attn_radius=1,
            init_cfg=None))
    vit.init_weights()
    x = torch.randn(1, 3, 32, 32)
    x2 = x.clone()
    x2[..., :8, :8] += 5
    with torch.no_grad():
        diff = (vit(x2)[0] - vit(x)[0]).abs().amax(1)[0]  # [4, 4]
    reach = torch.zeros(4, 4, dtype=torch.bool)
    reach[:3, :3] = True
    assert (diff[reach] > 0).all()
    assert (diff[~reach] == 0).all()
    # Global attention (default): every patch changes.
    glob = MODELS.build(
        dict(
            type='WSSSVisionTransformer',
            arch=dict(
                embed_dims=16,
                num_layers=2,
                num_heads=2,
                feedforward_channels=32),
            img_size=32,
            patch_size=8,
            out_type='featmap',
            init_cfg=None))
    with torch.no_grad():
        gdiff = (glob(x2)[0] - glob(x)[0]).abs().amax(1)[0]
    assert (gdiff > 0).all()
