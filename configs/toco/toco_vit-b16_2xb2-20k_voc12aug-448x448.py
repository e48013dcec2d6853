# ToCo on PASCAL VOC 2012 train_aug (image-level labels only): ViT-B/16,
# 448x448 crops of images rescaled by 0.5-2.0, flip and colour
# distortion, 2 GPUs x 2 images, 20k iterations (rulixiang/ToCo defaults).
# Validation on val at the original size; `--tta`: scales 1.0/1.25/1.5
# with flips (ToCo's infer_seg_voc.py). `tools/dist_train.sh THIS 2`.
_base_ = [
    '../_base_/models/toco_vit-b16.py', '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_20k.py',
    '../_base_/tta/toco_ms_flip.py'
]
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='RandomResize',
        scale=(500, 500),
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
# dense CRF of tools/make_pseudo_labels.py --crf: ToCo's parameters
crf_cfg = dict(
    n_iters=10, pos_xy_std=1, pos_w=1, bi_xy_std=121, bi_rgb_std=5, bi_w=4)
