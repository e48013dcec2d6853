# APC (ViT-B/16, VOC 2012 train_aug) + IAA images: the paper's final
# training set is the original images plus the accepted generated ones,
# each with its source image's image-level labels (IAA, Sec. 3.4).
# Generate the IAA set first into `iaa_root` with tools/generate_iaa.py
# (a VOC source, real SD 1.5 + Canny ControlNet folders and the APC
# classifier of configs/apc/apc_vitb_voc.py as the filter; see
# configs/iaa/README.md).
_base_ = ['../apc/apc_vitb_voc.py']
iaa_root = 'work_dirs/iaa_voc'  # the generation work dir
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            {{_base_.train_dataloader.dataset}},
            dict(
                type='SyntheticWSSSDataset',
                data_root=iaa_root,
                metainfo_from='VOCWSSSDataset',
                pipeline={{_base_.train_pipeline}}),
        ]))
