# CPU-sized FSR on the generated demo_shapes data (background, circle,
# square, triangle; tools/dataset_converters/make_demo_data.py): ToCo's
# tiny randomly initialised ViT with FSR's two views, masking, aggregator,
# projector and EMA teacher, trained from image-level labels only; the
# decoder's loss from iteration 100; then mIoU on val (decoder;
# `--cfg-options model.infer_from=classifier` for CAMs).
_base_ = [
    '../_base_/models/fsr_vit-tiny-p8.py',
    '../_base_/datasets/demo_shapes.py', '../_base_/fsr_runtime.py',
    '../_base_/schedules/schedule_cpu_adamw.py',
    '../_base_/tta/demo_128_192_flip.py'
]
num_classes = 4
embed_dims = 96
max_iters = 600
model = dict(
    backbone=dict(
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4)),
    decode_head=dict(num_classes=num_classes))
train_pipeline = [
    dict(type='LoadImageFromFile'),
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
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
# `tools/test.py ... --tta`: ToCo's merge (flip pair summed, max over
# scales) at the demo size and 1.5x.
tta_model = dict(
    type='WSSSTTAModel', activation='none', flip_merge='sum', merge='max')
