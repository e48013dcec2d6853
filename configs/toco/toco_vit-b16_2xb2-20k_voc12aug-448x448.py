# ToCo on PASCAL VOC 2012 train_aug (image-level labels only): ViT-B/16,
# 448x448 crops of images rescaled by 0.5-2.0, flip and colour
# distortion, 2 GPUs x 2 images, 20k iterations (rulixiang/ToCo defaults).
# Validation on val at the original size; `--tta`: scales 1.0/1.25/1.5
# with flips (ToCo's infer_seg_voc.py); `--crf`: ToCo's CRF (crf_cfg of
# the model base). `tools/dist_train.sh THIS 2`.
_base_ = [
    '../_base_/models/toco_vit-b16.py',
    '../_base_/datasets/voc12aug_448x448.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_20k.py',
    '../_base_/tta/toco_ms_flip.py'
]
