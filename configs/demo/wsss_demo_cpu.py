# The README's main job: APC (adaptive-K pooling + patch contrast + single
# stage decoder) with a tiny randomly initialised ViT on the generated
# demo_shapes data (tools/dataset_converters/make_demo_data.py), trained from
# image-level labels only on CPU in a few minutes; then mIoU on val.
# Two options against the seed-dependent failure of a ViT trained from
# scratch (configs/apc/README.md, "Options for models trained from
# scratch"): local attention (radius 1 patch per block) and a background
# prior (the background's image score is the mean of its top half of patch
# scores). Seeds 0 / 1 / 2: 72.7 / 5.3 / - val mIoU without them,
# 64.9 / 60.7 / 64.2 with them (benchmarks/demo_seeds.md).
_base_ = [
    '../_base_/models/apc_vit-tiny-p8.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_cpu_adamw.py',
    '../_base_/tta/demo_128_192_flip.py'
]
num_classes = 4
embed_dims = 96
max_iters = 800
model = dict(
    backbone=dict(
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        out_indices=(1, 3),
        local_attn_radius=1),
    neck=None,
    cls_head=dict(
        in_channels=embed_dims,
        num_classes=num_classes,
        bg_pooling=dict(type='TopKRatioPool', ratio=0.5)),
    decode_head=dict(
        in_channels=[embed_dims] * 2,
        in_index=[0, 1],
        num_classes=num_classes))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=40),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=1e-5,
        by_epoch=False,
        begin=40,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
# `tools/test.py ... --tta`: the demo size (and 1.5x) with horizontal flips.
tta_model = dict(type='WSSSTTAModel', merge='mean', activation='auto')
