# APC ablation (paper Table 7): adaptive-K pooling without PCL.
_base_ = ['./apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
model = dict(cls_head=dict(loss_contrast=None))
