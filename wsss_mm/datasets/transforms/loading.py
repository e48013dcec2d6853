"""Loading transforms: images with clear errors, image-level labels."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile

from wsss_mm.registry import TRANSFORMS


class ImageLoadError(OSError):
    """An image file exists but cannot be read or decoded."""


@TRANSFORMS.register_module()
class LoadWSSSImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the image and the problem.

    mmcv's loader fails on a corrupt file with a bare ``AssertionError`` or
    an exception from deep inside the decoder. This one raises
    ``FileNotFoundError`` for a missing file and :class:`ImageLoadError`
    (an ``OSError``) naming the path for an unreadable or undecodable one.
    With ``ignore_empty=True`` it returns None instead, as mmcv does (the
    dataset then picks another sample).

    Args:
        **kwargs: See :class:`mmcv.transforms.LoadImageFromFile`.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image at ``results['img_path']``."""
        filename = results['img_path']
        is_local = '://' not in str(filename) and not (
            self.backend_args
            and self.backend_args.get('backend') not in (None, 'local'))
        if is_local and not osp.isfile(filename):
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'image file not found: {filename}')
        try:
            out = super().transform(results)
        except Exception as e:
            if self.ignore_empty:
                return None
            raise ImageLoadError(
                f'cannot read image {filename}: the file is unreadable or '
                f'not a valid image ({type(e).__name__}: {e})') from e
        return out


@TRANSFORMS.register_module()
class LoadImageLevelLabels(BaseTransform):
    """Turn ``img_labels`` into a multi-hot ``gt_image_labels`` vector.

    Required keys: ``img_labels`` (class ids without background and
    ignore), ``num_classes``, ``with_background`` (all set by wsss_mm
    datasets). Added key: ``gt_image_labels``, float32 array of length
    ``num_classes``. With a background class, index 0 is always 1
    (background is always present, the ViT-PCM convention).

    Args:
        allow_empty (bool): Accept images without foreground labels.
            Defaults to False: the WSSS protocol forbids them, and such an
            image raises ``ValueError`` naming it.
    """

    def __init__(self, allow_empty: bool = False) -> None:
        self.allow_empty = allow_empty

    def transform(self, results: dict) -> dict:
        """Add ``gt_image_labels`` to ``results``."""
        name = results.get('img_path', results.get('img_name', '<unknown>'))
        for key in ('img_labels', 'num_classes'):
            if key not in results:
                raise KeyError(
                    f'LoadImageLevelLabels needs results[{key!r}] for image '
                    f'{name}; use a wsss_mm dataset (they add img_labels, '
                    'num_classes and with_background to every data info)')
        num_classes = int(results['num_classes'])
        with_background = bool(results.get('with_background', False))
        labels = [int(i) for i in results['img_labels']]
        bad = [i for i in labels if not 0 <= i < num_classes]
        if bad:
            raise ValueError(
                f'image {name}: image-level label id(s) {bad} out of range '
                f'0..{num_classes - 1}')
        foreground = [i for i in labels if not (with_background and i == 0)]
        if not foreground and not self.allow_empty:
            raise ValueError(
                f'image {name} has no foreground image-level labels; the '
                'WSSS protocol forbids images without foreground labels '
                '(remove it from the list, or set allow_empty=True)')
        multi_hot = np.zeros(num_classes, dtype=np.float32)
        multi_hot[labels] = 1.0
        if with_background:
            multi_hot[0] = 1.0
        results['gt_image_labels'] = multi_hot
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(allow_empty={self.allow_empty})'
