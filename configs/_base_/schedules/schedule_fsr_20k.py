# FSR's schedule (train_voc.py, CosWarmupAdamW): AdamW lr 6e-5 (betas
# 0.9/0.999, weight decay 0.05), 10x learning rate for the classifiers, the
# decoder and the projector; no weight decay on biases, norms, the position
# embedding and the class/mask tokens; linear warm-up from 0.1 of the rate
# over 1500 iterations, then cosine to 0 at the last iteration.
max_iters = 20000
warmup_iters = 1500
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='NoDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        no_decay_keys=('pos_embed', 'cls_token', 'mask_token'),
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'decode_head': dict(lr_mult=10.0),
            'projector': dict(lr_mult=10.0)
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min=0.0,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=200, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=2000,
        max_keep_ckpts=3,
        save_last=True,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
