# FSR on PASCAL VOC 2012 train_aug (image-level labels only): ViT-B/16,
# two global views per image (RandomResizedCrop 448, scale 0.32-1, flip,
# colour jitter 0.4/0.4/0.2/0.1 with p 0.5), 4 GPUs x 2 images, 20k
# iterations (Jessie459/feature-self-reinforcement defaults). Validation
# on val at the original size; `--tta`: scales 1.0/1.25/1.5 with flips;
# `--crf`: ToCo's CRF. `tools/dist_train.sh THIS 4`.
_base_ = [
    '../_base_/models/fsr_vit-b16.py',
    '../_base_/datasets/voc12aug_448x448.py', '../_base_/fsr_runtime.py',
    '../_base_/schedules/schedule_fsr_20k.py',
    '../_base_/tta/toco_ms_flip.py'
]
crop_size = 448
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='FSRTwoViews',
        crop_size=crop_size,
        scale=(0.32, 1.0),
        flip_prob=0.5,
        color_jitter=(0.4, 0.4, 0.2, 0.1),
        jitter_prob=0.5),
    dict(type='PackMultiViewWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
