# Test-time augmentation of ToCo (and FSR, built on it): scales 1.0, 1.25,
# 1.5 of the original size, each with its horizontal flip; the flip pair's
# logits are summed, then the maximum over scales is taken, on raw logits
# (rulixiang/ToCo, infer_seg_voc.py). Apply softmax afterwards for the CRF.
# Use: `_base_ = [..., '../_base_/tta/toco_ms_flip.py']` and `--tta` (no
# other base may define tta_model or tta_pipeline).
tta_model = dict(
    type='WSSSTTAModel', activation='none', flip_merge='sum', merge='max')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale_factor=1.0, keep_ratio=True),
                dict(type='Resize', scale_factor=1.25, keep_ratio=True),
                dict(type='Resize', scale_factor=1.5, keep_ratio=True)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadWSSSAnnotations', imdecode_backend='pillow')],
            [dict(type='PackWSSSInputs')]
        ])
]
