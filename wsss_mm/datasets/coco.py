"""MS COCO 2014 (81 classes with background) with image-level labels."""
import json
import os.path as osp
import warnings
from typing import List, Optional, Sequence

import numpy as np

from wsss_mm.registry import DATASETS
from .base_wsss import BaseWSSSDataset
from .labels import image_labels_from_instances

COCO_CLASSES = ('background', 'person', 'bicycle', 'car', 'motorcycle',
                'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
                'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird',
                'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear',
                'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie',
                'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
                'kite', 'baseball bat', 'baseball glove', 'skateboard',
                'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
                'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
                'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza',
                'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
                'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
                'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
                'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
                'teddy bear', 'hair drier', 'toothbrush')


def make_palette(num: int, seed: int = 42) -> List[List[int]]:
    """A deterministic palette: black for id 0, random colours after."""
    rng = np.random.RandomState(seed)
    palette = rng.randint(0, 256, size=(num, 3)).tolist()
    palette[0] = [0, 0, 0]
    return palette


COCO_PALETTE = make_palette(len(COCO_CLASSES))


def read_classes_file(path: str) -> List[str]:
    """Class names (background first) from a converter's ``classes.json``.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: It is not a JSON list of names starting with background.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'classes file not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = json.load(f)
    if not (isinstance(names, list) and names
            and all(isinstance(n, str) for n in names)):
        raise ValueError(f'{path} must hold a JSON list of class names')
    if names[0] != 'background':
        raise ValueError(
            f'{path}: the first class must be "background", got {names[0]!r}')
    return names


@DATASETS.register_module()
class COCOWSSSDataset(BaseWSSSDataset):
    """MS COCO 2014 for weakly supervised segmentation.

    81 classes, ``'background'`` at 0 and the 80 COCO thing classes in the
    usual order (category ids mapped to 1..80 in sorted id order).
    Class-id PNG masks (ids 0..80, 255 ignore) are produced by
    ``tools/dataset_converters/coco14_instances_to_masks.py``::

        coco2014/
          images/train2014/NAME.jpg          (symlink made by the converter)
          annotations/train2014/NAME.png     class-id masks
          train2014.txt  val2014.txt          image lists
          image_labels.json  classes.json     written by the converter

    Image-level labels: from ``label_file`` if given and present, else from
    ``ann_json`` (a COCO instances JSON) if given, else derived from the
    masks and cached (see :class:`BaseWSSSDataset`). Training images
    without any (non-crowd) object are dropped with a warning.

    A subset of categories (e.g. a small COCO-format set with 3
    categories) is converted to ids 1..N by the converter, which writes the
    names to ``classes.json``; pass it as ``classes_file`` so that names and
    ``num_classes`` match the masks (no id remapping is applied).

    Args:
        data_root (str): Dataset root.
        ann_file (str): Image list. Defaults to ``'train2014.txt'``.
        data_prefix (dict): Defaults to
            ``dict(img_path='images/train2014',
            seg_map_path='annotations/train2014')``.
        label_file (str, optional): JSON ``{image_name: [class ids]}``.
        ann_json (str, optional): COCO instances JSON to take image labels
            from (relative to ``data_root`` unless absolute).
        classes_file (str, optional): JSON list of class names, background
            first (relative to ``data_root`` unless absolute).
        **kwargs: See :class:`BaseWSSSDataset`.
    """
    METAINFO = dict(
        classes=COCO_CLASSES, palette=COCO_PALETTE, with_background=True)
    with_background = True
    converter_hint = (
        'run `python tools/dataset_converters/coco14_instances_to_masks.py '
        '--ann instances_train2014.json --img-dir train2014 --out ROOT`')

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'train2014.txt',
                 data_prefix: dict = dict(
                     img_path='images/train2014',
                     seg_map_path='annotations/train2014'),
                 label_file: Optional[str] = None,
                 ann_json: Optional[str] = None,
                 classes_file: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self._classes_from_file = False
        if classes_file is not None:
            if data_root and not osp.isabs(classes_file):
                classes_file = osp.join(data_root, classes_file)
            if data_root is None or osp.isdir(data_root):
                names = read_classes_file(classes_file)
                metainfo = dict(metainfo or {})
                metainfo['classes'] = tuple(names)
                metainfo.setdefault('palette', make_palette(len(names)))
                self._classes_from_file = True
        if ann_json and data_root and not osp.isabs(ann_json):
            ann_json = osp.join(data_root, ann_json)
        self.ann_json = ann_json
        self.classes_file = classes_file
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            label_file=label_file,
            metainfo=metainfo,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)
        self._warn_classes_mismatch()

    def get_label_map(self, new_classes: Optional[Sequence] = None):
        """No id remapping when the classes come from ``classes_file``.

        The converter already wrote the masks in that id space; otherwise
        this is mmseg's class-subset ``label_map``.
        """
        if getattr(self, '_classes_from_file', False):
            return None
        return super().get_label_map(new_classes)

    def _warn_classes_mismatch(self) -> None:
        found = osp.join(self.data_root or '', 'classes.json')
        if self.classes_file or not osp.isfile(found):
            return
        try:
            names = read_classes_file(found)
        except (ValueError, OSError):
            return
        if list(names) != list(self._metainfo['classes']):
            warnings.warn(
                f'{found} lists {len(names)} classes that differ from the '
                f'{self.num_classes} classes of {type(self).__name__}; pass '
                f'classes_file={found!r} if the masks were converted from '
                'a subset of categories')

    def _load_raw_labels(self, names, mask_paths):
        if not (self.label_file and osp.isfile(self.label_file)) \
                and self.ann_json:
            labels = image_labels_from_instances(self.ann_json)
            n_cat = max([max(v) for v in labels.values() if v] or [0])
            if n_cat >= self._raw_num_classes:
                raise ValueError(
                    f'{self.ann_json} has more categories than the '
                    f'{self._raw_num_classes - 1} foreground classes of '
                    f'{type(self).__name__}; pass classes_file= (written '
                    'by the converter) for a category subset')
            missing = [n for n in names if n not in labels]
            if missing:
                raise KeyError(
                    f'{len(missing)} image(s) listed in {self.ann_file} are '
                    f'not in {self.ann_json}, e.g. {missing[:5]}')
            return {n: labels[n] for n in names}
        return super()._load_raw_labels(names, mask_paths)
