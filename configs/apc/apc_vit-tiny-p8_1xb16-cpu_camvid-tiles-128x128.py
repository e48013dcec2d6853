# CPU-sized APC on CamVid tiles (development benchmark, docs/evaluation.md):
# a small randomly initialised ViT (patch 8), adaptive-K pooling, PCL and
# the single-stage decoder, trained on train tiles with image-level labels
# only. benchmarks/camvid_apc.py trains it and the GMP baseline for the same
# budget. Point data_root at a CamVid-layout folder, e.g.
#   --cfg-options train_dataloader.dataset.data_root=../shared/data/camvid \
#       val_dataloader.dataset.data_root=../shared/data/camvid
_base_ = [
    '../_base_/models/apc_vit-tiny-p8.py',
    '../_base_/datasets/camvid_tiles.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_cpu_adamw.py'
]
num_classes = 11
max_iters = 2500
model = dict(
    cls_head=dict(num_classes=num_classes),
    decode_head=dict(num_classes=num_classes))
train_dataloader = dict(batch_size=16, num_workers=2)
val_dataloader = dict(batch_size=8, num_workers=2)
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=1e-5,
        by_epoch=False,
        begin=100,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1000, max_keep_ckpts=1))
