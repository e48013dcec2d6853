# The README's main job: APC (adaptive-K pooling + patch contrast + single
# stage decoder) with a tiny randomly initialised ViT on the generated
# demo_shapes data (tools/dataset_converters/make_demo_data.py), trained from
# image-level labels only on CPU in a few minutes; then mIoU on val.
# Against the seed-dependent failure of a ViT trained from scratch
# (configs/apc/README.md, "Options for models trained from scratch"):
# - local attention, radius 1 patch per block (radius 2 collapsed seeds 1
#   and 2);
# - a background prior: the background's image score is the mean of its
#   top 40 % of patch scores;
# - adaptive-K keeps up to 12 patches (a demo shape covers 8-38 patches of
#   8 px; 6 left the shapes under-segmented);
# - the decoder's pseudo labels are the patch scores refined with PAR (the
#   image's colour affinities, at a quarter of the input size) before
#   painting: the classifier alone finds the shapes' outlines and leaves
#   their flat interiors to the background.
# `tools/run_demo.sh` evaluates the decoder without and with dense CRF
# (`tools/test.py --crf`, APC's published post-processing). Figures per
# seed: benchmarks/demo_seeds.md.
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
        pooling=dict(k_max=12),
        bg_pooling=dict(type='TopKRatioPool', ratio=0.4)),
    pseudo_label_cfg=dict(par=dict(down_scale=4)),
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
