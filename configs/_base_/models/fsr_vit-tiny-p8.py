# CPU-sized FSR: ToCo's tiny ViT (patch 8, 128 px), a narrower projector,
# 32 px mask blocks (4x4 patches, as FSR's 64 px blocks at patch 16).
_base_ = ['./toco_vit-tiny-p8.py']
model = dict(
    type='FSR',
    data_preprocessor=dict(type='MultiViewSegDataPreProcessor'),
    backbone=dict(with_mask_token=True),
    ctc=None,
    aggregator=dict(
        type='MaskedCrossAttentionAggregator',
        num_blocks=2,
        mlp_ratio=4.0,
        qkv_bias=True),
    projector=dict(
        type='DINOProjector',
        hidden_channels=256,
        bottleneck_channels=64,
        out_channels=512,
        num_layers=3),
    loss_fsr=dict(
        type='FSRLoss',
        student_temp=0.1,
        warmup_teacher_temp=0.04,
        teacher_temp=0.07,
        warmup_ratio=0.125,
        center_momentum=0.9,
        loss_weight_class=0.1,
        loss_weight_patch=0.1),
    mask_cfg=dict(
        block_size=32,
        mask_ratio=0.4,
        low_thr=0.2,
        high_thr=0.7,
        random_ratio=0.2),
    # FSR losses (and the teacher's cosine momentum schedule) for the
    # first fsr_iters iterations, then off (teacher frozen); None: the
    # whole run, the public default (--fsr_iters = --max_iters).
    fsr_iters=None)
# The teacher follows the student after every optimizer step through
# TeacherEMAHook (never in forward): FSR configs take
# ../fsr_runtime.py, which adds it, instead of ../default_runtime.py.
