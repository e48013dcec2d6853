# TTA views of the demo data (`tools/test.py ... --tta`): the demo size
# (128) and 1.5x, each with a horizontal flip. Each method config sets its
# own `tta_model` (how the views merge).
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(128, 128), keep_ratio=False),
                dict(type='Resize', scale=(192, 192), keep_ratio=False)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadWSSSAnnotations', imdecode_backend='pillow')],
            [dict(type='PackWSSSInputs')]
        ])
]
