# ToCo's COCO schedule (dist_train_coco_seg_neg.py): the 20k recipe
# (schedule_toco_20k.py) over 80k iterations; validation and checkpoints
# every 8000.
_base_ = ['./schedule_toco_20k.py']
max_iters = 80000
warmup_iters = 1500
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
