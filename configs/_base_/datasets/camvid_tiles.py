# CamVid tiles (development benchmark): each 480x360 image is cut into a
# 4x3 grid of 120x120 tiles; a tile's image-level labels are the classes
# covering >= 1% of its labelled pixels; 11 classes, no background.
# data_root is relative to the project; point it at another copy with e.g.
#   --cfg-options train_dataloader.dataset.data_root=../shared/data/camvid \
#       val_dataloader.dataset.data_root=../shared/data/camvid \
#       test_dataloader.dataset.data_root=../shared/data/camvid
# Train pipelines never load pixel masks (no label leakage); val/test do.
# In the wsss_mm scope 'LoadImageFromFile' is wsss_mm's
# LoadWSSSImageFromFile (errors name a missing or corrupt file); the name
# lets mmseg's MMSegInferencer find the loader.
dataset_type = 'CamVidTilesDataset'
data_root = 'data/camvid'
grid = (4, 3)
min_label_fraction = 0.01
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
# Tiles are evaluated at their own size (the model resizes its input).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='CropTile'),
    dict(type='PackWSSSInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        grid=grid,
        min_label_fraction=min_label_fraction,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        grid=grid,
        min_label_fraction=min_label_fraction,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
