# FSR on COCO 2014 (82,081 train images, image-level labels only; 80
# classes + background): the VOC recipe with 80k iterations and COCO's CAM
# thresholds (background 0.45, high 0.65, low 0.25; train_coco.py).
# `tools/dist_train.sh THIS 4`.
_base_ = [
    '../_base_/models/fsr_vit-b16.py',
    '../_base_/datasets/coco14_448x448.py', '../_base_/fsr_runtime.py',
    '../_base_/schedules/schedule_fsr_80k.py',
    '../_base_/tta/toco_ms_flip.py'
]
num_classes = 81
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
