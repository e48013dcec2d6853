# APC on MS COCO 2014 (82,081 train images, 81 classes with background).
# Same recipe as VOC; 16 images a step -> 5,130 iterations an epoch; the
# paper trains "for a maximum of 50 epochs" (Sec. 4.1) and reports
# convergence within about 15 (Table 5 text): 50 epochs here, with a
# checkpoint and a validation every 5 epochs to stop earlier.
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_adam.py',
    '../_base_/tta/apc_960_flip.py'
]
num_classes = 81
iters_per_epoch = 5130
max_iters = iters_per_epoch * 50
model = dict(
    cls_head=dict(num_classes=num_classes),
    decode_head=dict(num_classes=num_classes))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[iters_per_epoch * 2],
        gamma=0.1,
        begin=0,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=iters_per_epoch * 5)
default_hooks = dict(checkpoint=dict(interval=iters_per_epoch * 5))
