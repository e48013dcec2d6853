# ToCo on COCO 2014 (82,081 train images, image-level labels only; 80
# classes + background): the VOC recipe with 80k iterations and COCO's CAM
# thresholds (background 0.45, high 0.65, low 0.25; ToCo's
# dist_train_coco_seg_neg.py). `tools/dist_train.sh THIS 2`.
_base_ = [
    '../_base_/models/toco_vit-b16.py', '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_20k.py',
    '../_base_/tta/toco_ms_flip.py'
]
num_classes = 81
max_iters = 80000
crop_size = (448, 448)
model = dict(
    decode_head=dict(num_classes=num_classes),
    cam_cfg=dict(bkg_thr=0.45, high_thr=0.65, low_thr=0.25))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='RandomResize',
        scale=(640, 640),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', imdecode_backend='pillow'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=False,
        begin=0,
        end=1500),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=False,
        begin=1500,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
crf_cfg = dict(
    n_iters=10, pos_xy_std=1, pos_w=1, bi_xy_std=121, bi_rgb_std=5, bi_w=4)
