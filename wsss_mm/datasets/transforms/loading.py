"""Loading transforms: images with clear errors, image-level labels."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from wsss_mm.registry import TRANSFORMS
from wsss_mm.utils.errors import WSSSInputError


class ImageLoadError(WSSSInputError, OSError):
    """An image file exists but cannot be read or decoded."""


class AnnotationError(WSSSInputError, ValueError):
    """A ground-truth map holds ids that are not classes of the dataset."""


def check_seg_map_ids(seg_map: np.ndarray,
                      num_classes: int,
                      ignore_index: int = 255,
                      path: str = '<array>') -> None:
    """Raise :class:`AnnotationError` if ``seg_map`` holds an id outside
    ``0..num_classes - 1`` that is not ``ignore_index``; names the file and
    the ids."""
    ids = np.flatnonzero(np.bincount(seg_map.ravel().astype(np.int64)))
    bad = [int(i) for i in ids if i >= num_classes and i != ignore_index]
    if bad:
        raise AnnotationError(
            f'{path}: ground-truth ids {bad} are not classes of the dataset '
            f'(ids 0..{num_classes - 1}, ignore {ignore_index}); the mask '
            'is not an index image of this dataset or was converted wrongly')


@TRANSFORMS.register_module()
class LoadWSSSAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that checks the ids it reads.

    After loading (and applying ``reduce_zero_label`` / ``label_map``), every
    id must be a class of the dataset or the ignore id: a mask holding e.g.
    99 raises :class:`AnnotationError` naming the file and the ids instead
    of being dropped silently by the metric (which skews mIoU).

    Args:
        num_classes (int, optional): Number of classes. Defaults to the
            ``num_classes`` that wsss_mm datasets put in each data info.
        ignore_index (int): Defaults to 255.
        **kwargs: See :class:`mmseg.datasets.transforms.LoadAnnotations`.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        if 'seg_map_path' not in results:
            # A raw image without ground truth (``inference_model``): mmseg's
            # inference API drops only transforms named exactly
            # ``LoadAnnotations`` from the test pipeline; there is nothing
            # to load or check.
            return
        path = results.get('seg_map_path')
        if path and '://' not in str(path) and not osp.isfile(path):
            raise FileNotFoundError(f'ground-truth mask not found: {path}')
        super()._load_seg_map(results)
        num_classes = self.num_classes or results.get('num_classes')
        if num_classes is None:
            raise KeyError(
                'LoadWSSSAnnotations needs num_classes: set it in the '
                'pipeline, or use a wsss_mm dataset (it puts num_classes '
                'in every data info)')
        check_seg_map_ids(results['gt_seg_map'], int(num_classes),
                          self.ignore_index, str(path))


# Also registered as 'LoadImageFromFile' in the wsss_mm scope, shadowing
# mmcv's loader there as mmseg's LoadAnnotations shadows mmcv's: our configs
# name it so, because mmseg's MMSegInferencer (and other stock code) finds
# the image loader of a pipeline by that exact type name.
@TRANSFORMS.register_module(
    name=['LoadWSSSImageFromFile', 'LoadImageFromFile'])
class LoadWSSSImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the image and the problem.

    mmcv's loader fails on a corrupt file with a bare ``AssertionError`` or
    an exception from deep inside the decoder. This one raises
    ``FileNotFoundError`` for a missing file and :class:`ImageLoadError`
    (an ``OSError``) naming the path for an unreadable or undecodable one.
    With ``ignore_empty=True`` it returns None instead, as mmcv does (the
    dataset then picks another sample).

    In the ``wsss_mm`` scope ``type='LoadImageFromFile'`` builds this class
    too (our configs use that name, so that mmseg's ``MMSegInferencer``,
    which looks the loader up by the name ``LoadImageFromFile``, runs them
    unchanged); in other scopes that name is mmcv's loader.

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
