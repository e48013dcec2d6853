# APC ablation (paper Table 7, first row): the single-stage framework with
# ViT-PCM's global max pooling and no PCL.
_base_ = ['./apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
model = dict(
    cls_head=dict(
        pooling=dict(_delete_=True, type='GlobalMaxPool'),
        loss_contrast=None))
