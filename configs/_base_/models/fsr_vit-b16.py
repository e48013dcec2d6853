# FSR (Jessie459/feature-self-reinforcement) on ToCo's ViT-B/16 model: two
# global views, view 2 masked (64 px blocks, ratio 0.4; random for the
# first fifth of training, then uncertain aux-CAM blocks first), masked
# cross-attention aggregation (2 blocks), DINO projector (2048-2048-256,
# 4096 prototypes), certain (class token) and uncertain (masked patch)
# self-distillation from an EMA teacher (momentum 0.9995 -> 1 cosine,
# TeacherEMAHook), each weighted 0.1; no class token contrast. PTC 0.2,
# decoder 0.1 and regulariser 0.05 (from iteration 2000) as ToCo. Every
# value is the public code's default (train_voc.py).
_base_ = ['./toco_vit-b16.py']
model = dict(
    type='FSR',
    data_preprocessor=dict(type='MultiViewSegDataPreProcessor'),
    backbone=dict(with_mask_token=True, drop_path_rate=0.1),
    ctc=None,
    aggregator=dict(
        type='MaskedCrossAttentionAggregator',
        num_blocks=2,
        mlp_ratio=4.0,
        qkv_bias=True),
    projector=dict(
        type='DINOProjector',
        hidden_channels=2048,
        bottleneck_channels=256,
        out_channels=4096,
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
        block_size=64,
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
