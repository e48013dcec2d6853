# Second stage of WSSS: fully supervised DeepLabV3+ (ResNet-50-D8, mmseg's
# recipe: 4 GPUs x 4 images, 40k iterations, crop 512) trained on pseudo
# masks of VOC train_aug, validated on the real val masks.
#
# 1. Dump the pseudo masks into the dataset folder (CRF-refined ones are
#    in pseudo_crf/):
#      python tools/make_pseudo_labels.py configs/apc/apc_vitb_voc.py \
#          CKPT --split train --crf --workers 2 \
#          --out data/VOCdevkit/VOC2012/PseudoLabels/apc_vitb_voc
# 2. Get the ImageNet ResNet-50-V1c weights once (nothing is downloaded at
#    run time; `open-mmlab://resnet50_v1c` would download):
#      URL=https://download.openmmlab.com/pretrain/third_party
#      wget -P checkpoints $URL/resnet50_v1c-2cccc1ad.pth
# 3. tools/dist_train.sh \
#        configs/second_stage/deeplabv3plus_r50-d8_voc_pseudo.py 4
#
# Other pseudo masks: `--cfg-options
# train_dataloader.dataset.data_prefix.seg_map_path=DIR` (absolute, or
# relative to data_root).
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/VOCdevkit/VOC2012'
pseudo_mask_dir = 'PseudoLabels/apc_vitb_voc/pseudo_crf'
backbone_checkpoint = 'checkpoints/resnet50_v1c-2cccc1ad.pth'
crop_size = (512, 512)
num_classes = 21

norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN without DDP
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint=backbone_checkpoint)),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# Standard fully supervised pipeline: the pseudo masks are the annotations.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadWSSSAnnotations',
        num_classes=num_classes,
        imdecode_backend='pillow'),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(
        type='LoadWSSSAnnotations',
        num_classes=num_classes,
        imdecode_backend='pillow'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='PascalVOCDataset',
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path=pseudo_mask_dir),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset',
        data_root=data_root,
        # real ground truth for validation
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PseudoLabelMetric')
test_evaluator = val_evaluator

max_iters = 40000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None)
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
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
