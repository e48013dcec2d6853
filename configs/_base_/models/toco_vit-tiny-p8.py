# CPU-sized ToCo: the ViT-B/16 ToCo model with a small randomly initialised
# ViT (patch 8, 128 px input), a narrower decoder and projector, fewer and
# smaller CTC crops, PAR dilations up to 8 px, CAMs at scales 1.0 and 0.5
# only, and the segmentation loss from iteration 100. The dense-energy loss
# keeps ToCo's half size (scale_factor 0.5 of the base). Step times on the
# 2-core CPU: benchmarks/toco_fsr.md. Set num_classes (and with_background)
# in the method config.
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
    cam_cfg=dict(scales=(1.0, 0.5)),
    seg_start_iter=100)
