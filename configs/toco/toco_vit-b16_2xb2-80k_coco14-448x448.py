# ToCo on COCO 2014 (82,081 train images, image-level labels only; 80
# classes + background): the VOC recipe with 80k iterations and COCO's CAM
# thresholds (background 0.45, high 0.65, low 0.25; ToCo's
# dist_train_coco_seg_neg.py). `tools/dist_train.sh THIS 2`.
_base_ = [
    '../_base_/models/toco_vit-b16.py',
    '../_base_/datasets/coco14_448x448.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_80k.py',
    '../_base_/tta/toco_ms_flip.py'
]
num_classes = 81
model = dict(
    decode_head=dict(num_classes=num_classes),
    cam_cfg=dict(bkg_thr=0.45, high_thr=0.65, low_thr=0.25))
