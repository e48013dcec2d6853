# FSR on COCO 2014 (82,081 train images, image-level labels only; 80
# classes + background): the VOC recipe with 80k iterations and COCO's CAM
# thresholds (background 0.45, high 0.65, low 0.25; train_coco.py).
# `tools/dist_train.sh THIS 4`.
_base_ = [
    '../_base_/models/fsr_vit-b16.py', '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_fsr_20k.py',
    '../_base_/tta/toco_ms_flip.py'
]
num_classes = 81
max_iters = 80000
warmup_iters = 1500
crop_size = 448
model = dict(
    decode_head=dict(num_classes=num_classes),
    cam_cfg=dict(bkg_thr=0.45, high_thr=0.65, low_thr=0.25))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='FSRTwoViews',
        crop_size=crop_size,
        scale=(0.32, 1.0),
        flip_prob=0.5,
        color_jitter=(0.4, 0.4, 0.2, 0.1),
        jitter_prob=0.5),
    dict(type='PackMultiViewWSSSInputs'),
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
        start_factor=0.1,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min=0.0,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
crf_cfg = dict(
    n_iters=10, pos_xy_std=1, pos_w=1, bi_xy_std=121, bi_rgb_std=5, bi_w=4)
# The EMA teacher's update after every optimizer step, plus the result
# file of default_runtime.py (a leaf's custom_hooks replaces the base's).
custom_hooks = [
    dict(type='EvaluationResultHook'),
    dict(type='TeacherEMAHook', base_momentum=0.9995, final_momentum=1.0)
]
