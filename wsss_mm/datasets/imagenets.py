"""ImageNet-S (Gao et al., TPAMI 2022): ImageNet images with pixel masks for
50, 300 or 919 classes.

Layout (as the official preparation scripts of LUSSeg/ImageNet-S write it;
nothing is converted)::

    data/ImageNetS/ImageNetS50/             (or ImageNetS300, ImageNetS919)
      train-semi/WNID/NAME.JPEG             few labelled training images
      train-semi-segmentation/WNID/NAME.png
      validation/WNID/NAME.JPEG
      validation-segmentation/WNID/NAME.png
      ImageNetS_categories_im50.txt         optional: class order (wnids)

Masks are RGB PNGs encoding the class id as ``R + 256 * G``: 0 is the
background ("other"), 1..N the classes, 1000 the ignored region.
:class:`LoadImageNetSAnnotations` decodes them into int64 maps; configs use
``ignore_index=1000`` (also as the segmentation padding value).

Class ids follow the categories file when given, else the sorted wnid
folder names (the order of the official category lists).
"""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets import BaseSegDataset
from PIL import Image

from wsss_mm.registry import DATASETS, TRANSFORMS

IMAGENETS_SUBSETS = (50, 300, 919)
IMAGENETS_IGNORE = 1000


def decode_imagenets_mask(rgb: np.ndarray) -> np.ndarray:
    """``R + 256 * G`` of an ``(H, W, 3)`` mask as int64 class ids."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 2:
        raise ValueError(f'an ImageNet-S mask is an RGB image, got shape '
                         f'{rgb.shape}')
    return rgb[..., 0].astype(np.int64) + 256 * rgb[..., 1].astype(np.int64)


def encode_imagenets_mask(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode_imagenets_mask` (uint8 RGB, B = 0)."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros(ids.shape + (3, ), np.uint8)
    out[..., 0] = ids % 256
    out[..., 1] = ids // 256
    return out


@TRANSFORMS.register_module()
class LoadImageNetSAnnotations(BaseTransform):
    """Load an ImageNet-S mask into ``gt_seg_map`` (int64).

    Args:
        ignore_index (int): Value given to the ignored region (1000 in the
            files). 255 suits ImageNet-S50 (ids 0..50) and matches the
            synthetic masks; keep 1000 for S300/S919, whose ids reach 255.
    """

    def __init__(self, ignore_index: int = IMAGENETS_IGNORE) -> None:
        self.ignore_index = int(ignore_index)

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        with Image.open(path) as im:
            rgb = np.asarray(im.convert('RGB'))
        ids = decode_imagenets_mask(rgb)
        if self.ignore_index != IMAGENETS_IGNORE:
            ids[ids == IMAGENETS_IGNORE] = self.ignore_index
        results['gt_seg_map'] = ids
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results


@DATASETS.register_module()
class ImageNetSDataset(BaseSegDataset):
    """ImageNet-S validation (or train-semi) images with their masks.

    Args:
        subset (int): 50, 300 or 919.
        data_root (str): The ``ImageNetS{subset}`` folder.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders
            (default the validation split).
        categories_file (str, optional): Wnids in class-id order, one per
            line (relative to ``data_root``); default: sorted wnid folders.
        **kwargs: :class:`~mmseg.datasets.BaseSegDataset` arguments.
    """

    def __init__(self,
                 subset: int = 50,
                 data_root: str = 'data/ImageNetS/ImageNetS50',
                 data_prefix: Optional[dict] = None,
                 categories_file: Optional[str] = None,
                 **kwargs) -> None:
        if subset not in IMAGENETS_SUBSETS:
            raise ValueError(f'ImageNet-S subset must be one of '
                             f'{IMAGENETS_SUBSETS}, got {subset}')
        self.subset = subset
        data_prefix = data_prefix or dict(
            img_path='validation', seg_map_path='validation-segmentation')
        img_dir = osp.join(data_root, data_prefix['img_path'])
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'{img_dir} not found: prepare ImageNet-S{subset} with the '
                f'scripts of github.com/LUSSeg/ImageNet-S (layout in '
                f'wsss_mm/datasets/imagenets.py)')
        wnids = self.read_categories(data_root, img_dir, categories_file)
        kwargs.setdefault('reduce_zero_label', False)
        kwargs.setdefault('img_suffix', '.JPEG')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            metainfo=dict(classes=('other', ) + tuple(wnids)),
            **kwargs)

    def read_categories(self, data_root: str, img_dir: str,
                        categories_file: Optional[str]) -> List[str]:
        if categories_file:
            path = osp.join(data_root, categories_file)
            with open(path, encoding='utf-8') as f:
                wnids = [ln.split()[0] for ln in f if ln.strip()]
        else:
            wnids = sorted(d for d in os.listdir(img_dir)
                           if osp.isdir(osp.join(img_dir, d)))
        if self.subset == len(wnids):
            return wnids
        # a validation folder may lack a class only if the list is given
        raise ValueError(
            f'ImageNet-S{self.subset} needs {self.subset} categories, found '
            f'{len(wnids)} in {categories_file or img_dir}')
