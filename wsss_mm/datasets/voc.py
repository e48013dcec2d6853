"""PASCAL VOC 2012 (+ SBD ``train_aug``) with image-level labels."""
from typing import Optional

from wsss_mm.registry import DATASETS
from .base_wsss import BaseWSSSDataset

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
               'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
               'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')

VOC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
               [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0],
               [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128],
               [192, 0, 128], [64, 128, 128], [192, 128, 128], [0, 64, 0],
               [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]]


@DATASETS.register_module()
class VOCWSSSDataset(BaseWSSSDataset):
    """PASCAL VOC 2012 for weakly supervised segmentation.

    21 classes, ``'background'`` at index 0 (``with_background=True``).
    Layout (``tools/dataset_converters/voc_aug.py`` builds the ``Aug``
    parts from SBD)::

        VOC2012/
          JPEGImages/NAME.jpg
          SegmentationClassAug/NAME.png     class-id masks (255 = ignore)
          ImageSets/Segmentation/train_aug.txt  val.txt

    Image-level labels come from ``label_file`` or are derived from the
    masks (palette PNGs are read as index images) and cached, see
    :class:`BaseWSSSDataset`. Training images without any foreground
    class are dropped with a warning (VOC ``train_aug`` has none).

    Args:
        data_root (str): Root of VOC2012.
        ann_file (str): Image list relative to ``data_root``.
            Defaults to ``'ImageSets/Segmentation/train_aug.txt'``.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` relative to
            ``data_root``.
        label_file (str, optional): JSON ``{image_name: [class ids]}``.
            Defaults to None.
        img_suffix (str): Defaults to ``'.jpg'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        **kwargs: See :class:`BaseWSSSDataset`.
    """
    METAINFO = dict(
        classes=VOC_CLASSES, palette=VOC_PALETTE, with_background=True)
    with_background = True
    converter_hint = ('run `python tools/dataset_converters/voc_aug.py '
                      'VOC_ROOT --sbd SBD_ROOT`')

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'ImageSets/Segmentation/train_aug.txt',
                 data_prefix: dict = dict(
                     img_path='JPEGImages',
                     seg_map_path='SegmentationClassAug'),
                 label_file: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            label_file=label_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)
