# APC on the demo data + IAA images (CPU twin of iaa_apc_vitb_voc.py).
# Generate first (see configs/iaa/README.md):
#   python tools/generate_iaa.py configs/iaa/generate_demo_cpu.py
# which writes work_dirs/iaa_demo_cpu/manifest.jsonl and the images. The
# synthetic images carry their source image's image-level labels and are
# concatenated with the real training set (IAA, Sec. 3.4).
_base_ = ['../demo/wsss_demo_cpu.py']
iaa_root = 'work_dirs/iaa_demo_cpu'  # the generation work dir
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            {{_base_.train_dataloader.dataset}},
            dict(
                type='SyntheticWSSSDataset',
                data_root=iaa_root,
                metainfo_from='DemoShapesDataset',
                pipeline={{_base_.train_pipeline}}),
        ]))
