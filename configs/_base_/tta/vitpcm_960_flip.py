# Test-time augmentation of ViT-PCM and APC: the image resized to 960x960
# (aspect ratio not kept, as the papers test), plus its horizontal flip;
# softmax scores (or classifier probabilities) averaged.
# Use: `_base_ = [..., '../_base_/tta/vitpcm_960_flip.py']`, then
# `python tools/test.py CONFIG CKPT --tta`. mmengine refuses a key defined
# by two bases: no other base may define tta_model or tta_pipeline.
tta_model = dict(type='WSSSTTAModel', merge='mean', activation='auto')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(960, 960), keep_ratio=False)],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            # ground truth stays at the original size for the metric
            [dict(type='LoadWSSSAnnotations', imdecode_backend='pillow')],
            [dict(type='PackWSSSInputs')]
        ])
]
