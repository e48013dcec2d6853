# CPU-sized second stage on the demo shapes: a tiny DeepLabV3+ (ResNetV1c-18
# with 8 base channels, BN, no auxiliary head, random init) trained on
# pseudo masks of the demo train split, validated on the real val masks.
#   python tools/make_pseudo_labels.py configs/demo/wsss_demo_cpu.py CKPT \
#       --crf --out data/demo_shapes/PseudoLabels/demo
#   python tools/train.py \
#       configs/second_stage/deeplabv3plus_r18-d8_tiny_demo.py
# The model is mmseg's DeepLabV3+ config (an `mmseg::` base), shrunk.
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/default_runtime.py'
]

data_root = 'data/demo_shapes'
# absolute, or relative to data_root
pseudo_mask_dir = 'PseudoLabels/demo/pseudo_crf'
crop_size = (64, 64)
num_classes = 4
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]])

norm_cfg = dict(type='BN', requires_grad=True)
# `_scope_`: mmseg:: bases build in mmseg's scope; ours reaches both.
model = dict(
    _scope_='wsss_mm',
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
        size=crop_size),
    pretrained=None,
    backbone=dict(
        depth=18, stem_channels=16, base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=64,
        channels=32,
        dilations=(1, 2, 3, 4),  # 8x8 feature maps at 64 px
        c1_in_channels=8,
        c1_channels=8,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=None)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadWSSSAnnotations',
        num_classes=num_classes,
        imdecode_backend='pillow'),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(
        type='LoadWSSSAnnotations',
        num_classes=num_classes,
        imdecode_backend='pillow'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BaseSegDataset',
        metainfo=metainfo,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path=pseudo_mask_dir),
        ann_file='ImageSets/Segmentation/train.txt',
        img_suffix='.jpg',
        seg_map_suffix='.png',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BaseSegDataset',
        metainfo=metainfo,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        img_suffix='.jpg',
        seg_map_suffix='.png',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PseudoLabelMetric')
test_evaluator = val_evaluator

max_iters = 200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
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
        type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
