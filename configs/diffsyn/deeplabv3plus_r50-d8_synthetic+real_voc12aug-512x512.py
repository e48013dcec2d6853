# Segmentation trained on diffusion-synthetic + real data: the synthetic
# store concatenated with VOC 2012 train_aug (SegmentationClassAug masks),
# reliability-aware loss, evaluated on VOC 2012 val.
_base_ = ['./deeplabv3plus_r50-d8_synthetic_voc12-512x512.py']
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
                metainfo={{_base_.voc_metainfo}},
                pipeline={{_base_.train_pipeline}}),
            dict(
                type='PascalVOCDataset',
                data_root={{_base_.data_root}},
                data_prefix=dict(
                    img_path='JPEGImages',
                    seg_map_path='SegmentationClassAug'),
                ann_file='ImageSets/Segmentation/train_aug.txt',
                pipeline={{_base_.train_pipeline}}),
        ]))
