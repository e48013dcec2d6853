# APC ablation (paper Table 6): GlobalAvgPool instead of adaptive-K pooling,
# PCL and the single-stage decoder kept.
_base_ = ['./apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
model = dict(
    cls_head=dict(pooling=dict(_delete_=True, type='GlobalAvgPool')))
