# PASCAL VOC 2012 + SBD (train_aug, 10,582 images) with image-level labels.
# Prepare: python tools/dataset_converters/voc_aug.py data/VOCdevkit/VOC2012
#              --sbd data/benchmark_RELEASE
# Train pipelines never load pixel masks (no label leakage); val/test do.
# In the wsss_mm scope 'LoadImageFromFile' is wsss_mm's
# LoadWSSSImageFromFile (errors name a missing or corrupt file); the name
# lets mmseg's MMSegInferencer find the loader.
dataset_type = 'VOCWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (384, 384)
test_size = (960, 960)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_size, keep_ratio=False),
    # pillow reads VOC palette PNGs as class ids (cv2 would expand colours)
    dict(type='LoadWSSSAnnotations', imdecode_backend='pillow'),
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
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        label_file='image_labels.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        label_file='image_labels.json',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
