# Second stage of WSSS: fully supervised DeepLabV3+ (ResNet-50-D8, mmseg's
# recipe: 4 GPUs x 4 images, 40k iterations, crop 512) trained on pseudo
# masks of VOC train_aug, validated on the real val masks. Model, VOC
# pipelines and schedule are mmseg's own configs (`mmseg::` bases); only the
# pseudo masks, the class count and the local backbone weights differ.
#
# 1. Dump the pseudo masks into the dataset folder (CRF-refined ones are
#    in pseudo_crf/):
#      python tools/make_pseudo_labels.py configs/apc/apc_vitb_voc.py \
#          CKPT --split train --crf --workers 2 \
#          --out data/VOCdevkit/VOC2012/PseudoLabels/apc_vitb_voc
# 2. Get the ImageNet ResNet-50-V1c weights once (nothing is downloaded at
#    run time; `open-mmlab://resnet50_v1c` would download):
#      URL=https://download.openmmlab.com/pretrain/third_party
#      wget -P checkpoints $URL/resnet50_v1c-2cccc1ad.pth
# 3. tools/dist_train.sh \
#        configs/second_stage/deeplabv3plus_r50-d8_voc_pseudo.py 4
#
# Other pseudo masks: `--cfg-options
# train_dataloader.dataset.data_prefix.seg_map_path=DIR` (absolute, or
# relative to data_root).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    'mmseg::_base_/datasets/pascal_voc12.py',
    'mmseg::_base_/schedules/schedule_40k.py', '../_base_/default_runtime.py'
]

pseudo_mask_dir = 'PseudoLabels/apc_vitb_voc/pseudo_crf'
backbone_checkpoint = 'checkpoints/resnet50_v1c-2cccc1ad.pth'
crop_size = (512, 512)
num_classes = 21

# `_scope_`: mmseg:: bases build in mmseg's scope; ours reaches both (and
# children may use wsss_mm parts, e.g. a robust loss or dataset).
model = dict(
    _scope_='wsss_mm',
    data_preprocessor=dict(size=crop_size),
    pretrained=None,  # mmseg's base would download open-mmlab://...
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=backbone_checkpoint)),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

# mmseg's VOC pipelines with LoadWSSSAnnotations, which checks every id it
# reads (a pseudo mask or val mask with an id outside the 21 classes stops
# naming the file instead of skewing training or mIoU).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=num_classes),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadWSSSAnnotations', num_classes=num_classes),
    dict(type='PackSegInputs')
]
# The pseudo masks are the annotations; train_aug instead of train.
train_dataloader = dict(
    dataset=dict(
        _scope_='wsss_mm',
        data_prefix=dict(seg_map_path=pseudo_mask_dir),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_scope_='wsss_mm', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, _scope_='wsss_mm', type='PseudoLabelMetric')
test_evaluator = val_evaluator
