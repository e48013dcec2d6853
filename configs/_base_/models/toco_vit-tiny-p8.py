# CPU-sized ToCo: the ViT-B/16 ToCo model with a small randomly initialised
# ViT (patch 8, 128 px input), a narrower decoder and projector, fewer and
# smaller CTC crops, and the segmentation loss from iteration 100. Set
# num_classes (and with_background) in the method config.
_base_ = ['./toco_vit-b16.py']
embed_dims = 128
model = dict(
    data_preprocessor=dict(size=None, size_divisor=8,
                           test_cfg=dict(size_divisor=8)),
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=6,
            num_heads=4,
            feedforward_channels=embed_dims * 4),
        img_size=128,
        patch_size=8,
        init_cfg=None),
    decode_head=dict(channels=128),
    ctc=dict(
        projector=dict(
            hidden_channels=256, bottleneck_channels=64, out_channels=256)),
    ctc_view_cfg=dict(num_crops=4, crop_size=32),
    par_cfg=dict(dilations=(1, 2, 4, 8)),
    seg_start_iter=100)
