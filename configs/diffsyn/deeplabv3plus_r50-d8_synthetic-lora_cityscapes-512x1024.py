# Driving domain: DeepLabV3+ R50 trained on synthetic driving scenes (SD 1.5
# adapted with LoRA on unlabelled driving images; generate_sd15_cityscapes.py)
# with the reliability-aware loss, evaluated on Cityscapes val (mmseg's
# CityscapesDataset, layout leftImg8bit/ + gtFine/ with labelTrainIds; see
# mmseg's tools/dataset_converters/cityscapes.py).
_base_ = ['./deeplabv3plus_r50-d8_synthetic_voc12-512x512.py']
data_root = 'data/cityscapes'
synthetic_root = 'work_dirs/diffsyn_sd15_cityscapes'
crop_size = (512, 1024)
num_classes = 19
cityscapes_classes = ('road', 'sidewalk', 'building', 'wall', 'fence',
                      'pole', 'traffic light', 'traffic sign', 'vegetation',
                      'terrain', 'sky', 'person', 'rider', 'car', 'truck',
                      'bus', 'train', 'motorcycle', 'bicycle')
# generated ids: 0 background, 1..19 the classes -> Cityscapes train ids
# (no background class there: 0 becomes ignore)
id_map = {0: 255, **{i + 1: i for i in range(19)}}
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        _delete_=True,
        type='DiffSynDataset',
        data_root=synthetic_root,
        metainfo=dict(classes=cityscapes_classes),
        id_map=id_map,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CityscapesDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
