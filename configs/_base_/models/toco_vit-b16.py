# ToCo (Ru et al., CVPR 2023) on ViT-B/16: final and aux (block -3) tokens,
# two bias-free 1x1 classifiers with global max pooling, patch token
# contrast (0.2), class token contrast (0.5), LargeFOV decoder on
# PAR-refined CAM labels (balanced CE 0.1) and the dense-energy
# regulariser (0.05), both from iteration 2000. Every value below is
# rulixiang/ToCo's default (scripts/dist_train_voc_seg_neg.py).
# Weights: the APC checkpoint (see configs/toco/README.md).
num_classes = 21
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448),
    test_cfg=dict(size_divisor=16))
model = dict(
    type='ToCo',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ToCoVisionTransformer',
        arch='b',
        img_size=448,
        patch_size=16,
        aux_layer=-3,
        final_norm=True,
        drop_rate=0.0,
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/vit-base-p16_in21k-ft-in1k-384.pth')),
    decode_head=dict(
        type='LargeFOVHead',
        channels=512,
        dilation=5,
        dropout_ratio=0.0,
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(
            type='BalancedCrossEntropyLoss', background_index=0,
            loss_weight=0.1)),
    with_background=True,
    cam_cfg=dict(
        scales=(1.0, 0.5, 1.5), bkg_thr=0.5, high_thr=0.7, low_thr=0.25),
    par_cfg=dict(dilations=(1, 2, 4, 8, 12, 24), num_iter=10, down_scale=2),
    loss_cls_weight=1.0,
    loss_cls_aux_weight=1.0,
    loss_ptc_weight=0.2,
    ctc=dict(
        type='ClassTokenContrastLoss',
        projector=dict(
            type='DINOProjector',
            hidden_channels=2048,
            bottleneck_channels=256,
            out_channels=1024,
            num_layers=3),
        momentum=0.9,
        temperature=0.5,
        loss_weight=0.5),
    ctc_view_cfg=dict(
        num_crops=8, crop_size=96, neg_ratio=0.2, global_scale=(0.4, 1.0)),
    reg_loss=dict(
        type='DenseEnergyLoss',
        loss_weight=0.05,
        energy_weight=1e-7,
        sigma_rgb=15.0,
        sigma_xy=100.0,
        scale_factor=0.5),
    seg_start_iter=2000,
    infer_from='decoder',
    cls_thr=0.0,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# Dense CRF of `tools/test.py --crf` and `make_pseudo_labels.py --crf`:
# ToCo's parameters (infer_seg_voc.py; TOCO_CRF of
# wsss_mm/models/utils/crf.py), also FSR's; override with --crf-preset or
# --cfg-options crf_cfg.bi_w=...
crf_cfg = dict(
    n_iters=10, pos_xy_std=1, pos_w=1, bi_xy_std=121, bi_rgb_std=5, bi_w=4)
