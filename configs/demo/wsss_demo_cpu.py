# The README's main job: APC (adaptive-K pooling + patch contrast + single
# stage decoder) with a tiny randomly initialised ViT on the generated
# demo_shapes data (tools/dataset_converters/make_demo_data.py), trained from
# image-level labels only on CPU in a few minutes; then mIoU on val.
_base_ = [
    '../_base_/datasets/demo_shapes.py', '../_base_/default_runtime.py'
]
num_classes = 4
embed_dims = 96
model = dict(
    type='PatchClassifierSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size_divisor=8),
    backbone=dict(
        type='WSSSVisionTransformer',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        img_size=128,
        patch_size=8,
        out_indices=(1, 3),
        out_type='featmap',
        final_norm=True,
        init_cfg=None),
    neck=dict(
        type='HVBiLSTM',
        in_channels=embed_dims,
        hidden_channels=embed_dims // 4,
        dropout=0.2),
    cls_head=dict(
        type='PatchClassifierHead',
        in_channels=embed_dims,
        num_classes=num_classes,
        pooling=dict(type='AdaptiveKPool', k_max=6, gap=0.1),
        loss_cls=dict(type='MCELoss', loss_weight=1.0),
        loss_contrast=dict(
            type='PatchContrastLoss',
            high_thr=0.85,
            low_ratio=0.1,
            loss_weight=0.02)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[embed_dims, embed_dims],
        in_index=[0, 1],
        channels=64,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        # Higher than the paper's 0.01: a randomly initialised model on a
        # few hundred steps needs the decoder to catch up quickly.
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.5)),
    infer_from='decoder',
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

max_iters = 400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=40),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=1e-5,
        by_epoch=False,
        begin=40,
        end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=200,
        max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
