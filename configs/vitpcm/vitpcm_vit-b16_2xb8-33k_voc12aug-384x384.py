# ViT-PCM (multi-stage, no CAM): ViT-B/16 + HV-BiLSTM + patch classifier
# with global max pooling, multi-label BCE and the equivariance loss between
# two views (flip / rot90); no decoder: masks come from the patch classifier
# (restricted to the image's labels for pseudo masks on train). As in
# ViT-PCM, the equivariance target is the original view predicted again
# with dropout off, detached (target_without_dropout).
_base_ = ['../apc/apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
model = dict(
    cls_head=dict(
        pooling=dict(_delete_=True, type='GlobalMaxPool'),
        loss_contrast=None),
    decode_head=None,
    equivariance=dict(
        loss=dict(type='EquivarianceLoss', loss_weight=1.0),
        transforms=('hflip', 'rot90'),
        target_without_dropout=True),
    infer_from='classifier')
# ViT-PCM's recipe (DESIGN.md): one warm-up epoch with the backbone frozen
# at Adam 1e-3, then the last five blocks unfrozen at 1e-4, 80 epochs.
iters_per_epoch = 662
max_iters = iters_per_epoch * 80
custom_hooks = [
    dict(
        type='BackboneUnfreezeHook',
        frozen_iters=iters_per_epoch,
        unfreeze_last=5)
]
# DDP is built before the first freeze.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[iters_per_epoch],
        gamma=0.1,
        begin=0,
        end=max_iters)
]
train_cfg = dict(max_iters=max_iters)
