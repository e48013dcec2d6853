# FSR on the pretrained DINOv2 ViT-S/14 (fine-tuned), CamVid tiles: the
# CamVid FSR config with the backbone of the APC DINOv2 configs (weights:
# `bash tools/prepare_cpu_pretrained.sh`, configs/apc/README.md); the EMA
# teacher starts from the same weights. Two global views of 112 px (an 8x8
# grid of 14 px patches), masking blocks of 28 px (2x2 patches, a
# sixteenth of the view as the tiny config's); the backbone learns at a
# tenth of the heads' rate. No feature cache (the backbone trains): a
# batch-16 step took 13.8-14.7 s on one CPU thread at load 3 (about 10 h
# for 2,500 iterations; benchmarks/toco_fsr.md); meant for a GPU. Not
# measured on CamVid here.
_base_ = [
    './fsr_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py',
    '../_base_/models/vit-s14-dinov2.py'
]
embed_dims = 384
model = dict(
    data_preprocessor=dict(
        size_divisor=14, test_cfg=dict(size_divisor=14)),
    backbone={{_base_.dinov2_vits14}},
    mask_cfg=dict(block_size=28))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='FSRTwoViews',
        crop_size=112,
        scale=(0.32, 1.0),
        flip_prob=0.5,
        color_jitter=(0.4, 0.4, 0.2, 0.1),
        jitter_prob=0.5),
    dict(type='PackMultiViewWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
