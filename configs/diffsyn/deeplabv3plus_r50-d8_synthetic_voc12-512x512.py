# Segmentation trained on diffusion-synthetic data only (no real image, no
# real label): DeepLabV3+ R50 on the store of generate_sd15_voc.py with the
# reliability-aware loss, evaluated on VOC 2012 val.
#   python tools/generate_diffsyn.py configs/diffsyn/generate_sd15_voc.py
#   tools/dist_train.sh \
#       configs/diffsyn/deeplabv3plus_r50-d8_synthetic_voc12-512x512.py 4
_base_ = ['../second_stage/deeplabv3plus_r50-d8_voc_pseudo.py']
synthetic_root = 'work_dirs/diffsyn_sd15_voc'
voc_metainfo = dict(
    classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
             'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
             'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
             'train', 'tvmonitor'))
robust_loss = dict(
    type='ReliableCrossEntropyLoss',
    start_iter=4000,
    ramp_iters=8000,
    max_drop_ratio=0.2,
    loss_weight=1.0)
model = dict(decode_head=dict(loss_decode=dict(_delete_=True, **robust_loss)))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DiffSynDataset',
        data_root=synthetic_root,
        metainfo=voc_metainfo,
        pipeline={{_base_.train_pipeline}}))
