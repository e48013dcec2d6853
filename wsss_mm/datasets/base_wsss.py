"""Base class and helpers for datasets with image-level labels.

Every wsss_mm dataset yields data info dicts that carry, besides what mmseg's
:class:`~mmseg.datasets.BaseSegDataset` puts there:

- ``img_labels``: sorted list of int class ids present in the image,
  excluding background (id 0 when ``with_background``) and ignore (255);
- ``num_classes``: ``len(metainfo['classes'])``;
- ``with_background``: whether class 0 is a background class.

Image-level labels come from a label file (JSON ``{image_name: [ids]}``) when
one is given and exists, else they are derived from the segmentation masks
(unique ids minus background and ignore) and cached, so that the masks are
read only once: :mod:`wsss_mm.datasets.labels` defines the rule, the label
files and the cache. The pixel masks are never put into training samples: train
pipelines do not load them.
"""
import logging
import os.path as osp
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

import mmengine
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from wsss_mm.registry import DATASETS
from wsss_mm.utils.errors import WSSSInputError
from .labels import (check_label_ids, default_cache_dir, derive_labels,
                     derive_labels_cached, read_label_file, write_label_file)


@DATASETS.register_module()
class BaseWSSSDataset(BaseSegDataset):
    """Segmentation dataset with image-level labels for WSSS.

    Subclasses set ``METAINFO`` (``classes``, ``palette``,
    ``with_background``) and the class attribute ``with_background``. The
    data list is read from ``ann_file`` (one image name per line); each data
    info carries ``img_labels``, ``num_classes`` and ``with_background``
    (see the module docstring).

    Image-level labels: read from ``label_file`` if it is given and exists
    (JSON ``{image_name: [class ids]}``; names missing from it are derived
    from the masks, with a warning). Otherwise they are derived from the
    masks in ``data_prefix['seg_map_path']`` and cached: to ``label_file``
    when given, else to
    ``$WSSS_MM_CACHE/labels-<sha1(abs mask dir + abs ann_file)>.json``
    (``~/.cache/wsss_mm`` by default). The automatic cache stores the image
    names, mask directory, number of classes and the masks' names, sizes
    and modification times, and is re-derived when they differ from the
    current dataset, so it is never silently stale
    (:func:`~wsss_mm.datasets.labels.derive_labels_cached`).

    Images with empty image-level labels (no foreground class), in
    training (``test_mode=False``): the class attribute ``empty_labels``
    sets the policy of the protocol. ``'error'`` (VOC, COCO, the demo):
    building the dataset fails, naming the images, since the protocol has
    no supervision for them. ``'drop'`` (CamVid tiles): they are dropped
    with a logged count. ``drop_empty=True`` / ``False`` overrides the
    policy (drop / keep). In ``test_mode`` every image is kept (evaluation
    needs every image). A list where every image is empty always fails
    with a message saying so. See docs/datasets.md.

    Bad input raises errors that name the file: a missing ``data_root``
    (FileNotFoundError that names the converter to run), a missing list
    file, list entries whose image does not exist, masks with class ids
    out of range.

    Args:
        ann_file (str): List of image names, relative to ``data_root``.
        label_file (str, optional): JSON of image-level labels, relative to
            ``data_root`` unless absolute. Defaults to None.
        drop_empty (bool, optional): Override the empty-label policy: drop
            (True) or keep (False) images with empty labels. Defaults to
            None (the dataset's ``empty_labels`` policy in training, keep
            in ``test_mode``).
        check_files (bool): Check that every listed image exists.
            Defaults to True.
        converter_hint (str, optional): Text naming the converter, used in
            the error for a missing ``data_root``.
        **kwargs: Passed to :class:`~mmseg.datasets.BaseSegDataset`.
    """
    METAINFO: dict = dict(with_background=True)
    with_background: bool = True
    empty_labels: str = 'error'
    converter_hint: str = 'see tools/dataset_converters/'

    def __init__(self,
                 ann_file: str = '',
                 label_file: Optional[str] = None,
                 drop_empty: Optional[bool] = None,
                 check_files: bool = True,
                 converter_hint: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if converter_hint is not None:
            self.converter_hint = converter_hint
        if metainfo is not None and 'with_background' in metainfo:
            self.with_background = bool(metainfo['with_background'])
        if data_root is not None and not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {data_root!r} does not '
                f'exist (absolute: {osp.abspath(data_root)}). Prepare the '
                f'dataset first ({self.converter_hint}) or set data_root, '
                'e.g. `--cfg-options train_dataloader.dataset.data_root=...`.')
        self.label_file = label_file
        self.drop_empty = drop_empty
        self.check_files = check_files
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            test_mode=test_mode,
            **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        meta = super()._load_metainfo(metainfo)
        meta.setdefault('with_background', cls.with_background)
        meta['with_background'] = bool(meta['with_background'])
        return meta

    @property
    def num_classes(self) -> int:
        """Number of classes, background included when present."""
        return len(self._metainfo['classes'])

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.label_file and self.data_root and \
                not osp.isabs(self.label_file):
            self.label_file = osp.join(self.data_root, self.label_file)

    # ------------------------------------------------------------------
    # data list
    # ------------------------------------------------------------------
    def read_names(self) -> List[str]:
        """Image names listed in ``ann_file``.

        Raises:
            FileNotFoundError: ``ann_file`` does not exist.
        """
        if not self.ann_file or not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: image list {self.ann_file!r} not '
                f'found in data_root {self.data_root!r} '
                f'({self.converter_hint}).')
        names = [
            line.strip() for line in mmengine.list_from_file(
                self.ann_file, backend_args=self.backend_args)
        ]
        return [n for n in names if n]

    def _check_images_exist(self, img_paths: Sequence[str]) -> None:
        if not self.check_files:
            return
        missing = [p for p in img_paths if not osp.isfile(p)]
        if missing:
            shown = ', '.join(missing[:5])
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(missing)} image(s) listed in '
                f'{self.ann_file} do not exist, e.g. {shown}')

    def load_data_list(self) -> List[dict]:
        """Build data infos from ``ann_file`` with image-level labels."""
        names = self.read_names()
        img_dir = self.data_prefix.get('img_path', '') or ''
        ann_dir = self.data_prefix.get('seg_map_path', None)
        img_paths = [osp.join(img_dir, n + self.img_suffix) for n in names]
        self._check_images_exist(img_paths)
        mask_paths = None
        if ann_dir:
            mask_paths = [
                osp.join(ann_dir, n + self.seg_map_suffix) for n in names
            ]
        labels = self.load_image_labels(names, mask_paths)
        data_list = []
        for i, name in enumerate(names):
            info = dict(
                img_path=img_paths[i],
                img_name=name,
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            if mask_paths is not None:
                info['seg_map_path'] = mask_paths[i]
            info.update(self._label_fields(labels[name]))
            data_list.append(info)
        return data_list

    def _label_fields(self, img_labels: Iterable[int]) -> dict:
        return dict(
            img_labels=sorted(int(i) for i in img_labels),
            num_classes=self.num_classes,
            with_background=self.with_background)

    def filter_data(self) -> List[dict]:
        """Apply the empty-label policy (see the class docstring)."""
        data_list = super().filter_data()
        empty = [d.get('img_name', d['img_path']) for d in data_list
                 if not d['img_labels']]
        if data_list and len(empty) == len(data_list) and not self.test_mode:
            raise WSSSInputError(
                f'{type(self).__name__}: all {len(data_list)} images of '
                f'{self.ann_file} have empty image-level labels (no '
                'foreground class); check the label file / masks and '
                'the classes of the dataset')
        if not empty or self.test_mode and self.drop_empty is None:
            return data_list
        drop = self.drop_empty if self.drop_empty is not None else (
            self.empty_labels == 'drop')
        if not drop:
            if self.drop_empty is False:
                return data_list
            raise WSSSInputError(
                f'{type(self).__name__}: {len(empty)} of {len(data_list)} '
                f'images of {self.ann_file} have empty image-level labels, '
                f'e.g. {empty[:5]}; this protocol has no supervision for '
                'them: remove them from the list (or pass drop_empty=True '
                'to drop them)')
        print_log(
            f'{type(self).__name__}: dropped {len(empty)} of '
            f'{len(data_list)} images with empty image-level labels '
            f'(e.g. {empty[:3]})',
            logger='current',
            level=logging.WARNING)
        return [d for d in data_list if d['img_labels']]

    # ------------------------------------------------------------------
    # image-level labels
    # ------------------------------------------------------------------
    def derive_labels(self, names: Sequence[str],
                      mask_paths: Sequence[str]) -> Dict[str, List[int]]:
        """Derive image-level labels from class-id masks.

        The labels are in the masks' id space (before any class-subset
        ``label_map``), without background and ignore ids.

        Raises:
            FileNotFoundError: A mask is missing.
            ValueError: A mask holds a class id out of range.
        """
        return derive_labels(names, mask_paths, self._raw_num_classes,
                             self.with_background, self.ignore_index,
                             type(self).__name__)

    @property
    def _raw_num_classes(self) -> int:
        """Number of ids in the masks (before a class-subset label_map)."""
        if self.label_map:
            return len(type(self).METAINFO['classes'])
        return self.num_classes

    def _finalize_labels(self, ids: Iterable[int]) -> List[int]:
        """Map stored (mask id space) labels to this dataset's ids."""
        out = set()
        for i in ids:
            i = int(i)
            if self.label_map:
                i = self.label_map.get(i, i)
            if i == self.ignore_index or (self.with_background and i == 0):
                continue
            out.add(i)
        return sorted(out)

    def load_image_labels(
            self, names: Sequence[str],
            mask_paths: Optional[Sequence[str]]) -> Dict[str, List[int]]:
        """Image-level labels of ``names`` (label file, cache or masks).

        Args:
            names (list[str]): Image names.
            mask_paths (list[str], optional): Their masks (None when the
                dataset has no ``seg_map_path``).

        Returns:
            dict: ``{name: sorted class ids}`` in this dataset's id space.
        """
        raw = self._load_raw_labels(names, mask_paths)
        return {n: self._finalize_labels(raw[n]) for n in names}

    def _load_raw_labels(
            self, names: Sequence[str],
            mask_paths: Optional[Sequence[str]]) -> Dict[str, List[int]]:
        if self.label_file and osp.isfile(self.label_file):
            return self._labels_from_label_file(names, mask_paths)
        if mask_paths is None:
            raise FileNotFoundError(
                f'{type(self).__name__}: no image-level labels: label_file '
                f'{self.label_file!r} does not exist and no seg_map_path is '
                'set to derive them from masks.')
        if self.label_file:
            labels = self.derive_labels(names, mask_paths)
            try:
                write_label_file(labels, self.label_file)
                return labels
            except OSError as e:
                warnings.warn(f'cannot write label file {self.label_file} '
                              f'({e}); caching in {default_cache_dir()}')
        return derive_labels_cached(names, mask_paths, self.ann_file,
                                    self._raw_num_classes,
                                    self.with_background, self.ignore_index,
                                    type(self).__name__)

    def _labels_from_label_file(
            self, names: Sequence[str],
            mask_paths: Optional[Sequence[str]]) -> Dict[str, List[int]]:
        stored = read_label_file(self.label_file)
        missing = [n for n in names if n not in stored]
        labels = {n: [int(i) for i in stored[n]] for n in names if n in stored}
        check_label_ids(labels, self._raw_num_classes, self.ignore_index,
                        self.label_file)
        if missing:
            if mask_paths is None:
                raise KeyError(
                    f'label file {self.label_file} has no labels for '
                    f'{len(missing)} listed image(s), e.g. {missing[:5]}, '
                    'and no masks are configured to derive them')
            warnings.warn(
                f'label file {self.label_file} has no labels for '
                f'{len(missing)} listed image(s) (e.g. {missing[:3]}); '
                'deriving them from the masks and updating the file')
            index = {n: i for i, n in enumerate(names)}
            new = self.derive_labels(missing,
                                     [mask_paths[index[n]] for n in missing])
            labels.update(new)
            stored.update(new)
            try:
                write_label_file(stored, self.label_file)
            except OSError as e:
                warnings.warn(f'cannot update {self.label_file}: {e}')
        return labels
