# CPU twin of the driving example's segmenter: the tiny DeepLabV3+ trained
# on the store of generate_driving_demo_cpu.py (reliability-aware loss),
# evaluated on CamVid val (the Cityscapes stand-in; no background class:
# generated background becomes ignore).
#   python tools/train.py configs/diffsyn/seg_driving_demo_cpu.py
_base_ = ['./seg_synthetic_demo_cpu.py']
synthetic_root = 'work_dirs/diffsyn_driving_demo_cpu'
camvid_root = 'data/camvid'
num_classes = 11
camvid_metainfo = dict(
    classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
             'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'),
    palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
             [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
             [64, 0, 128], [64, 64, 0], [0, 128, 192]])
model = dict(decode_head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        metainfo=camvid_metainfo,
        id_map={0: 255, **{i + 1: i for i in range(num_classes)}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='BaseSegDataset',
        metainfo=camvid_metainfo,
        data_root=camvid_root,
        data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
