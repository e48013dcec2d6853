# ViT-PCM (multi-stage, no CAM): ViT-B/16 + HV-BiLSTM + patch classifier
# with global max pooling, multi-label BCE and the equivariance loss between
# two views (flip / rot90); no decoder: masks come from the patch classifier
# (restricted to the image's labels for pseudo masks on train).
_base_ = ['../apc/apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
model = dict(
    cls_head=dict(
        pooling=dict(_delete_=True, type='GlobalMaxPool'),
        loss_contrast=None),
    decode_head=None,
    equivariance=dict(
        loss=dict(type='EquivarianceLoss', loss_weight=1.0),
        transforms=('hflip', 'rot90')),
    infer_from='classifier')
