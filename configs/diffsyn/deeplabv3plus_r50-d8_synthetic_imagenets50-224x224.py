# ImageNet-S50: DeepLabV3+ R50 trained on diffusion-synthetic images of the
# 50 classes only (generate with generate_sd15_voc.py and
# classes=<the 50 class names in the order of the categories file>), with
# the reliability-aware loss; evaluated on the ImageNet-S50 validation masks
# (ignored region 1000 read as 255, like the synthetic masks' band).
#   python tools/generate_diffsyn.py configs/diffsyn/generate_sd15_voc.py \
#       --work-dir work_dirs/diffsyn_sd15_imagenets50 \
#       --cfg-options "classes=[...50 names...]"
_base_ = ['./deeplabv3plus_r50-d8_synthetic_voc12-512x512.py']
data_root = 'data/ImageNetS/ImageNetS50'
synthetic_root = 'work_dirs/diffsyn_sd15_imagenets50'
crop_size = (224, 224)
num_classes = 51  # 'other' (background) + 50
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(1024, 256),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 256), keep_ratio=True),
    dict(type='LoadImageNetSAnnotations', ignore_index=255),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DiffSynDataset',
        data_root=synthetic_root,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ImageNetSDataset',
        subset=50,
        data_root=data_root,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
