# Segmentation trained on diffusion-synthetic data only (no real image, no
# real label), CPU-sized: the tiny DeepLabV3+ of the second stage, trained
# on the store of configs/diffsyn/generate_demo_cpu.py (classes circle,
# square, triangle = the demo shapes' ids 1..3) with the reliability-aware
# loss, validated on the real demo shapes.
#   python tools/generate_diffsyn.py configs/diffsyn/generate_demo_cpu.py
#   python tools/train.py configs/diffsyn/seg_synthetic_demo_cpu.py
_base_ = ['../second_stage/deeplabv3plus_r18-d8_tiny_demo.py']
synthetic_root = 'work_dirs/diffsyn_demo_cpu'
max_iters = 200
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ReliableCrossEntropyLoss',
            start_iter=max_iters // 4,
            ramp_iters=max_iters // 2,
            max_drop_ratio=0.2)))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DiffSynDataset',
        data_root=synthetic_root,
        metainfo={{_base_.metainfo}},
        pipeline={{_base_.train_pipeline}}))
