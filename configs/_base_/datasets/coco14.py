# MS COCO 2014 (81 classes with background) with image-level labels.
# Prepare (once per split):
#   python tools/dataset_converters/coco14_instances_to_masks.py \
#       --ann data/coco/annotations/instances_train2014.json \
#       --img-dir data/coco/train2014 --out data/coco2014
# Train pipelines never load pixel masks (no label leakage); val/test do.
# In the wsss_mm scope 'LoadImageFromFile' is wsss_mm's
# LoadWSSSImageFromFile (errors name a missing or corrupt file); the name
# lets mmseg's MMSegInferencer find the loader.
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
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
        ann_file='train2014.txt',
        data_prefix=dict(
            img_path='images/train2014', seg_map_path='annotations/train2014'),
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
        ann_file='val2014.txt',
        data_prefix=dict(
            img_path='images/val2014', seg_map_path='annotations/val2014'),
        label_file='image_labels.json',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
