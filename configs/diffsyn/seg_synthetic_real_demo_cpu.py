# Segmentation trained on diffusion-synthetic + real data, CPU-sized: the
# store of configs/diffsyn/generate_demo_cpu.py concatenated with the real
# demo-shapes train split (its real masks), reliability-aware loss.
#   python tools/generate_diffsyn.py configs/diffsyn/generate_demo_cpu.py
#   python tools/train.py configs/diffsyn/seg_synthetic_real_demo_cpu.py
_base_ = ['./seg_synthetic_demo_cpu.py']
real_root = 'data/demo_shapes'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # the synthetic set has no palette of its own
        ignore_keys=['palette'],
        datasets=[
            dict(
                type='DiffSynDataset',
                data_root={{_base_.synthetic_root}},
                metainfo={{_base_.metainfo}},
                pipeline={{_base_.train_pipeline}}),
            dict(
                type='BaseSegDataset',
                metainfo={{_base_.metainfo}},
                data_root=real_root,
                data_prefix=dict(
                    img_path='JPEGImages', seg_map_path='SegmentationClass'),
                ann_file='ImageSets/Segmentation/train.txt',
                img_suffix='.jpg',
                seg_map_suffix='.png',
                pipeline={{_base_.train_pipeline}}),
        ]))
