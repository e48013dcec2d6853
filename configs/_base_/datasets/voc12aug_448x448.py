# VOC 2012 train_aug as ToCo trains and evaluates on it (rulixiang/ToCo,
# dist_train_voc_seg_neg.py): images rescaled by 0.5-2.0 of 500 px (ratio
# kept), a random 448x448 crop, flip and colour distortion, 2 images per
# GPU; val/test at the original size (`--tta` adds the scales). FSR keeps
# the test side and replaces the train pipeline with its two views.
_base_ = ['./voc12aug.py']
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
    dict(type='LoadWSSSAnnotations', imdecode_backend='pillow'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
