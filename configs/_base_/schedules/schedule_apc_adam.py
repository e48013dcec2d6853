# APC / ViT-PCM: Adam, a higher learning rate for the first 2 epochs, then
# 10x lower (paper Sec. 4.1; ViT-PCM: 1e-3 then 1e-4). Iterations assume VOC
# train_aug (10,582 images) at 16 images per step: 662 iterations an epoch.
iters_per_epoch = 662
max_iters = iters_per_epoch * 50
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0),
    # Pretrained backbone at a tenth of the head's rate: a gentler stand-in
    # for ViT-PCM's frozen-backbone warm-up epoch.
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[iters_per_epoch * 2],
        gamma=0.1,
        begin=0,
        end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=iters_per_epoch * 5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=iters_per_epoch * 5,
        max_keep_ckpts=3,
        save_last=True,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
