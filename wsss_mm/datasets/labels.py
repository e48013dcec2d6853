"""Image-level labels: the one place that defines them.

- The rule from a class-id mask to image-level labels
  (:func:`labels_from_mask`; :func:`tile_labels` for CamVid tiles) and the
  mask reader (:func:`read_index_mask`).
- The COCO category-id mapping (:func:`coco_category_mapping`) and labels
  from a COCO instances JSON (:func:`image_labels_from_instances`).
- Label files ``{image_name: [class ids]}`` (:func:`read_label_file`,
  :func:`write_label_file`, :func:`check_label_ids`).
- The label cache (:func:`derive_labels_cached`): labels derived from masks
  are cached under ``$WSSS_MM_CACHE`` (``~/.cache/wsss_mm``), keyed on the
  masks' names, sizes and modification times, written by rank 0 only.

Datasets (``wsss_mm/datasets/*.py``) and the dataset converters
(``wsss_mm/datasets/converters/``) use these functions.
"""
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from PIL import Image

from wsss_mm.utils.fileio import dump_json_atomic

CACHE_ENV = 'WSSS_MM_CACHE'
CACHE_VERSION = 2


def default_cache_dir() -> str:
    """Directory of the image-label caches.

    ``$WSSS_MM_CACHE`` when set, else ``~/.cache/wsss_mm``.
    """
    return os.environ.get(CACHE_ENV) or osp.join(
        osp.expanduser('~'), '.cache', 'wsss_mm')


def read_index_mask(path: str) -> np.ndarray:
    """Read a class-id mask as a 2-D uint8 array of ids.

    Palette PNGs (mode ``P``, e.g. VOC ``SegmentationClass``) are read as
    index images, not converted to colours.

    Args:
        path (str): Path of the mask.

    Returns:
        np.ndarray: ``(H, W)`` array of class ids.

    Raises:
        FileNotFoundError: The mask does not exist.
        ValueError: The file cannot be decoded or is a colour image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'segmentation mask not found: {path}')
    try:
        with Image.open(path) as img:
            mode = img.mode
            arr = np.array(img)
    except Exception as e:  # PIL raises several types on corrupt files
        raise ValueError(f'cannot read segmentation mask {path}: {e}') from e
    if mode not in ('P', 'L', 'I', 'I;16', 'I;16B', 'I;16L', '1'):
        raise ValueError(
            f'segmentation mask {path} has image mode {mode!r}; expected an '
            'index image of class ids (palette "P" or grayscale "L"), not a '
            'colour-coded mask. Convert it with the dataset converters in '
            'tools/dataset_converters/.')
    if arr.ndim != 2:
        raise ValueError(
            f'segmentation mask {path} has shape {arr.shape}; expected a '
            '2-D array of class ids')
    return arr


def labels_from_mask(mask: np.ndarray,
                     num_classes: int,
                     with_background: bool = True,
                     ignore_index: int = 255,
                     path: str = '<array>',
                     label_map: Optional[Dict[int, int]] = None) -> List[int]:
    """Image-level labels of one class-id mask.

    Args:
        mask (np.ndarray): Class-id mask.
        num_classes (int): Number of classes, background included.
        with_background (bool): Drop id 0 (background).
        ignore_index (int): Id to drop (not a class).
        path (str): File name used in error messages.
        label_map (dict, optional): Old id -> new id mapping applied first
            (mmseg's ``label_map`` for class subsets).

    Returns:
        list[int]: Sorted present class ids.

    Raises:
        ValueError: The mask holds an id ``>= num_classes`` that is not
            ``ignore_index``.
    """
    ids = np.flatnonzero(np.bincount(mask.ravel().astype(np.int64)))
    if label_map:
        ids = np.unique([label_map.get(int(i), int(i)) for i in ids])
    bad = [int(i) for i in ids if i >= num_classes and i != ignore_index]
    if bad:
        raise ValueError(
            f'mask {path} holds class id(s) {bad} out of range: the dataset '
            f'has {num_classes} classes (ids 0..{num_classes - 1}) and '
            f'ignore id {ignore_index}. Check that the mask is an index '
            'image of this dataset.')
    return [
        int(i) for i in ids
        if i != ignore_index and not (with_background and i == 0)
    ]


def tile_labels(mask: np.ndarray,
                num_classes: int,
                min_label_fraction: float = 0.01,
                ignore_index: int = 255) -> Tuple[List[int], int]:
    """Classes covering at least ``min_label_fraction`` of labelled pixels.

    Args:
        mask (np.ndarray): Class-id mask of one tile.
        num_classes (int): Number of classes.
        min_label_fraction (float): Minimum share of the tile's labelled
            (non-ignore) pixels.
        ignore_index (int): Void id.

    Returns:
        tuple: (sorted class ids, number of labelled pixels).
    """
    counts = np.bincount(mask.ravel(), minlength=256)
    counts = counts[:num_classes]
    labelled = int(counts.sum())
    if labelled == 0:
        return [], 0
    ids = np.flatnonzero(counts >= min_label_fraction * labelled)
    return [int(i) for i in ids], labelled


def check_label_ids(labels: Dict[str, Iterable[int]], num_classes: int,
                    ignore_index: int, source: str) -> None:
    """Raise if a label list holds an id outside ``0..num_classes - 1``.

    Raises:
        ValueError: names ``source``, the image and the bad ids.
    """
    for name, ids in labels.items():
        bad = [
            i for i in ids
            if not 0 <= int(i) < num_classes and int(i) != ignore_index
        ]
        if bad:
            raise ValueError(
                f'{source}: image {name!r} has class id(s) {bad} out of '
                f'range 0..{num_classes - 1}')


def read_label_file(path: str) -> Dict[str, List[int]]:
    """Read a label file ``{image_name: [class ids]}``.

    Raises:
        ValueError: not JSON, or not a mapping of names to id lists.
    """
    try:
        with open(path, encoding='utf-8') as f:
            stored = json.load(f)
    except ValueError as e:
        raise ValueError(f'label file {path} is not valid JSON: {e}') from e
    if not isinstance(stored, dict):
        raise ValueError(f'label file {path} must hold a JSON object '
                         '{image_name: [class ids]}')
    if 'labels' in stored and 'names' in stored:  # an automatic cache
        stored = stored['labels']
    out = {}
    for name, ids in stored.items():
        if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError(f'label file {path}: image {name!r} has labels '
                             f'{ids!r}; expected a list of int class ids')
        out[name] = [int(i) for i in ids]
    return out


def write_label_file(labels: Dict[str, Iterable[int]], path: str) -> None:
    """Write ``{image_name: [class ids]}`` atomically."""
    dump_json_atomic({k: [int(i) for i in v]
                      for k, v in labels.items()}, path)


def coco_category_mapping(categories: Sequence[dict],
                          source: str = 'COCO JSON'
                          ) -> Tuple[Dict[int, int], List[str]]:
    """Contiguous ids of COCO categories.

    Category ids map to ``1..N`` in sorted category-id order; 0 is the
    background (for COCO 2014's 80 categories this is the usual order).

    Returns:
        tuple: ``({category_id: contiguous id}, ['background', names...])``.
    """
    cats = sorted(categories, key=lambda c: c['id'])
    if len(cats) >= 255:
        raise ValueError(f'{source}: {len(cats)} categories do not fit the '
                         'uint8 masks (255 is ignore)')
    to_contiguous = {c['id']: i + 1 for i, c in enumerate(cats)}
    return to_contiguous, ['background'] + [c['name'] for c in cats]


def image_labels_from_instances(ann_json: str) -> Dict[str, List[int]]:
    """Image-level labels from a COCO instances JSON.

    Category ids are mapped to contiguous ids ``1..N`` in sorted category-id
    order (background is 0), the mapping of
    :func:`coco_category_mapping`, as the converter uses. Crowd
    annotations are ignored (their pixels are ``ignore`` in the masks).

    Args:
        ann_json (str): Path of ``instances_*.json``.

    Returns:
        dict: ``{file name stem: sorted contiguous class ids}``; images
        without (non-crowd) annotations map to ``[]``.
    """
    if not osp.isfile(ann_json):
        raise FileNotFoundError(f'COCO instances JSON not found: {ann_json}')
    with open(ann_json, encoding='utf-8') as f:
        coco = json.load(f)
    to_contiguous, _ = coco_category_mapping(coco['categories'], ann_json)
    stem = {
        im['id']: osp.splitext(osp.basename(im['file_name']))[0]
        for im in coco['images']
    }
    labels = {s: set() for s in stem.values()}
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0):
            continue
        if ann['category_id'] not in to_contiguous:
            raise ValueError(
                f'{ann_json}: annotation {ann.get("id")} has category id '
                f'{ann["category_id"]} that is not in "categories"')
        labels[stem[ann['image_id']]].add(to_contiguous[ann['category_id']])
    return {k: sorted(v) for k, v in labels.items()}


def derive_labels(names: Sequence[str],
                  mask_paths: Sequence[str],
                  num_classes: int,
                  with_background: bool = True,
                  ignore_index: int = 255,
                  owner: str = 'dataset') -> Dict[str, List[int]]:
    """Image-level labels of masks (:func:`labels_from_mask` each).

    Raises:
        FileNotFoundError: A mask is missing.
        ValueError: A mask holds a class id out of range (names the mask).
    """
    if len(names) > 500:
        print_log(
            f'{owner}: deriving image-level labels from {len(names)} masks '
            '(cached afterwards)',
            logger='current')
    return {
        name: labels_from_mask(
            read_index_mask(path),
            num_classes,
            with_background=with_background,
            ignore_index=ignore_index,
            path=path)
        for name, path in zip(names, mask_paths)
    }


def masks_fingerprint(names: Sequence[str],
                      mask_paths: Sequence[str]) -> str:
    """sha1 over every mask's name, size and modification time (ns)."""
    h = hashlib.sha1()
    for name, path in zip(names, mask_paths):
        try:
            st = os.stat(path)
            h.update(f'{name}\t{st.st_size}\t{st.st_mtime_ns}\n'.encode())
        except OSError:
            h.update(f'{name}\tmissing\n'.encode())
    return h.hexdigest()


def _rank() -> int:
    from mmengine.dist import get_rank
    return get_rank()


def derive_labels_cached(names: Sequence[str],
                         mask_paths: Sequence[str],
                         ann_file: str,
                         num_classes: int,
                         with_background: bool = True,
                         ignore_index: int = 255,
                         owner: str = 'dataset') -> Dict[str, List[int]]:
    """:func:`derive_labels` through the label cache.

    The cache file (``labels-<sha1 of mask dir and list>.json`` in
    :func:`default_cache_dir`) is used only when the image names, the
    number of classes, the background and ignore settings and the masks'
    fingerprint (:func:`masks_fingerprint`: names, sizes, mtimes) all
    match; otherwise the labels are derived again. Only rank 0 writes it.
    """
    mask_dir = osp.dirname(mask_paths[0]) if mask_paths else ''
    key = osp.abspath(mask_dir) + '\n' + osp.abspath(ann_file)
    cache = osp.join(default_cache_dir(),
                     f'labels-{hashlib.sha1(key.encode()).hexdigest()}.json')
    meta = dict(
        version=CACHE_VERSION,
        mask_dir=osp.abspath(mask_dir),
        ann_file=osp.abspath(ann_file),
        num_classes=num_classes,
        with_background=with_background,
        ignore_index=ignore_index,
        masks=masks_fingerprint(names, mask_paths),
        names=list(names))
    if osp.isfile(cache):
        try:
            with open(cache, encoding='utf-8') as f:
                cached = json.load(f)
        except (OSError, ValueError):
            cached = {}
        if all(
                json.dumps(cached.get(k)) == json.dumps(v)
                for k, v in meta.items()):
            return {k: list(v) for k, v in cached['labels'].items()}
        print_log(
            f'{owner}: label cache {cache} does not match the current '
            'image list or masks (names, sizes, mtimes); re-deriving',
            logger='current',
            level=logging.WARNING)
    labels = derive_labels(names, mask_paths, num_classes, with_background,
                           ignore_index, owner)
    if _rank() == 0:
        try:
            dump_json_atomic(dict(meta, labels=labels), cache)
        except OSError as e:
            print_log(f'cannot write label cache {cache}: {e}',
                      logger='current', level=logging.WARNING)
    return labels
