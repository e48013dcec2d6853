# CPU-sized FSR on CamVid tiles (development benchmark, DESIGN.md protocol;
# no background class): every pixel takes its best present class, the
# decoder learns with plain cross entropy. The budget of the APC and ToCo
# benchmark configs. Point data_root at a CamVid-layout folder, e.g.
#   --cfg-options train_dataloader.dataset.data_root=../shared/data/camvid \
#       val_dataloader.dataset.data_root=../shared/data/camvid
_base_ = [
    '../_base_/models/fsr_vit-tiny-p8.py',
    '../_base_/datasets/camvid_tiles.py', '../_base_/fsr_runtime.py',
    '../_base_/schedules/schedule_cpu_adamw.py'
]
num_classes = 11
max_iters = 2500
model = dict(
    with_background=False,
    decode_head=dict(
        num_classes=num_classes,
        loss_decode=dict(background_index=None)),
    seg_start_iter=250)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropTile'),
    dict(type='LoadImageLevelLabels'),
    dict(
        type='FSRTwoViews',
        crop_size=128,
        scale=(0.32, 1.0),
        flip_prob=0.5,
        color_jitter=(0.4, 0.4, 0.2, 0.1),
        jitter_prob=0.5),
    dict(type='PackMultiViewWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(pipeline=train_pipeline))
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
