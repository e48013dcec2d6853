# APC (adaptive-K pooling + patch contrastive loss + single-stage decoder)
# on ViT-B/16. Weights: see configs/apc/README.md.
norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 21
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16)
model = dict(
    type='PatchClassifierSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='WSSSVisionTransformer',
        arch='b',
        img_size=384,
        patch_size=16,
        out_indices=(2, 5, 8, 11),
        out_type='featmap',
        final_norm=True,
        drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/vit-base-p16_in21k-ft-in1k-384.pth')),
    neck=dict(
        type='HVBiLSTM', in_channels=768, hidden_channels=192, dropout=0.2),
    cls_head=dict(
        type='PatchClassifierHead',
        in_channels=768,
        num_classes=num_classes,
        pooling=dict(type='AdaptiveKPool', k_max=6, gap=0.1, mode='gap'),
        loss_cls=dict(type='MCELoss', loss_weight=1.0),
        loss_contrast=dict(
            type='PatchContrastLoss',
            high_thr=0.85,
            low_ratio=None,  # paper: the lowest-scoring patch
            loss_weight=0.02)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=0.01)),
    pseudo_label_cfg=dict(ignore_thr=None),
    infer_from='decoder',
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# Dense CRF of `tools/test.py --crf` and `make_pseudo_labels.py --crf`: APC
# follows ViT-PCM's published post-processing (wsss_mm/models/utils/crf.py
# APC_CRF); override with --crf-preset or --cfg-options crf_cfg.bi_w=...
crf_cfg = dict(
    n_iters=10, pos_xy_std=1, pos_w=3, bi_xy_std=67, bi_rgb_std=3, bi_w=4)
