"""Build PASCAL VOC 2012 ``train_aug`` (VOC + SBD) for WSSS.

Writes, under ``--out`` (default: ``VOC_ROOT``)::

    SegmentationClassAug/NAME.png         class-id PNGs (mode L, 255 ignore)
    ImageSets/Segmentation/train_aug.txt  SBD train+val + VOC train - VOC val
    ImageSets/Segmentation/val.txt        VOC val
    image_labels.json                     {name: [class ids]} (no 0, 255)
    JPEGImages -> VOC_ROOT/JPEGImages     symlink when --out != VOC_ROOT

SBD masks come from ``SBD_ROOT/[dataset/]cls/*.mat`` (``GTcls.Segmentation``);
VOC's own ``SegmentationClass`` palette PNGs are copied in as index PNGs and
take precedence over SBD for images in both.

Example::

    python tools/dataset_converters/voc_aug.py data/VOCdevkit/VOC2012 \\
        --sbd data/benchmark_RELEASE --nproc 8
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from wsss_mm.datasets.labels import labels_from_mask, write_label_file
from wsss_mm.utils.fileio import save_image_atomic, write_text_atomic

NUM_CLASSES = 21
IGNORE = 255


def read_list(path: str) -> List[str]:
    """Non-empty stripped lines of a text file ([] when it is absent)."""
    if not osp.isfile(path):
        return []
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def load_sbd_mask(mat_path: str) -> np.ndarray:
    """Class-id mask of an SBD ``cls/*.mat`` file (``GTcls.Segmentation``).

    Raises:
        ValueError: The file is not an SBD class annotation.
    """
    from scipy.io import loadmat
    try:
        mat = loadmat(mat_path, struct_as_record=False)
    except Exception as e:
        raise ValueError(f'cannot read SBD file {mat_path}: {e}') from e
    if 'GTcls' not in mat:
        raise ValueError(f'{mat_path} has no GTcls struct: not an SBD '
                         'cls/*.mat annotation')
    gt = mat['GTcls']
    if isinstance(gt, np.ndarray):  # a (1, 1) array of structs
        gt = gt.flat[0] if gt.size else None
    seg = getattr(gt, 'Segmentation', None)
    if seg is None:
        raise ValueError(f'{mat_path}: GTcls has no Segmentation field')
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise ValueError(f'{mat_path}: GTcls.Segmentation has shape '
                         f'{seg.shape}, expected 2-D')
    return seg.astype(np.uint8)


def mask_labels(mask: np.ndarray, path: str) -> List[int]:
    """Foreground ids of a VOC mask; raises on ids out of range."""
    return labels_from_mask(mask, NUM_CLASSES, True, IGNORE, path=path)


def convert_one(task: Tuple[str, str, str],
                out_dir: str) -> Tuple[str, List[int]]:
    """Convert one mask (``('sbd'|'voc', name, src)``) to an index PNG."""
    kind, name, src = task
    if kind == 'sbd':
        mask = load_sbd_mask(src)
    else:
        with Image.open(src) as img:
            if img.mode not in ('P', 'L'):
                raise ValueError(f'{src}: mode {img.mode}; expected a VOC '
                                 'palette (P) or index (L) PNG')
            mask = np.array(img).astype(np.uint8)
    labels = mask_labels(mask, src)
    save_image_atomic(osp.join(out_dir, name + '.png'), Image.fromarray(mask))
    return name, labels


def _sbd_dir(sbd_root: str) -> str:
    for cand in (osp.join(sbd_root, 'dataset'), sbd_root):
        if osp.isdir(osp.join(cand, 'cls')):
            return cand
    raise FileNotFoundError(
        f'no cls/ folder in {sbd_root} or {sbd_root}/dataset: expected the '
        'SBD benchmark_RELEASE layout')


def convert(voc_root: str,
            sbd_root: Optional[str] = None,
            out: Optional[str] = None,
            nproc: int = 1) -> Dict[str, List[int]]:
    """Build ``SegmentationClassAug``, lists and image labels.

    Args:
        voc_root (str): VOC2012 folder (``JPEGImages``,
            ``SegmentationClass``, ``ImageSets/Segmentation``).
        sbd_root (str, optional): SBD root (``[dataset/]cls/*.mat`` and
            ``train.txt``/``val.txt``).
        out (str, optional): Output root; defaults to ``voc_root``.
        nproc (int): Worker processes.

    Returns:
        dict: ``{name: labels}`` of every converted mask.
    """
    if not osp.isdir(voc_root):
        raise FileNotFoundError(f'VOC root not found: {voc_root}')
    out = out or voc_root
    seg_voc = osp.join(voc_root, 'SegmentationClass')
    sets_voc = osp.join(voc_root, 'ImageSets', 'Segmentation')
    if not osp.isdir(seg_voc):
        raise FileNotFoundError(f'{seg_voc} not found: is {voc_root} a '
                                'VOC2012 folder?')
    voc_val = read_list(osp.join(sets_voc, 'val.txt'))
    voc_train = read_list(osp.join(sets_voc, 'train.txt'))
    if not voc_val:
        raise FileNotFoundError(f'{sets_voc}/val.txt is missing or empty')
    if not voc_train:
        warnings.warn(f'{sets_voc}/train.txt is missing or empty: '
                      'train_aug gets SBD images only')
    tasks = {}
    sbd_names: List[str] = []
    if sbd_root:
        sbd_dir = _sbd_dir(sbd_root)
        cls_dir = osp.join(sbd_dir, 'cls')
        sbd_names = read_list(osp.join(sbd_dir, 'train.txt')) + read_list(
            osp.join(sbd_dir, 'val.txt'))
        if not sbd_names:
            sbd_names = sorted(
                osp.splitext(f)[0] for f in os.listdir(cls_dir)
                if f.endswith('.mat'))
        for name in sbd_names:
            src = osp.join(cls_dir, name + '.mat')
            if not osp.isfile(src):
                raise FileNotFoundError(
                    f'SBD list names {name} but {src} does not exist')
            tasks[name] = ('sbd', name, src)
    for fname in sorted(os.listdir(seg_voc)):
        if fname.endswith('.png'):
            name = fname[:-4]
            tasks[name] = ('voc', name, osp.join(seg_voc, fname))
    val_set = set(voc_val)
    train_aug = sorted((set(sbd_names) | set(voc_train)) - val_set)
    no_mask = [n for n in train_aug + voc_val if n not in tasks]
    if no_mask:
        raise FileNotFoundError(
            f'{len(no_mask)} listed images have no mask in SBD or '
            f'{seg_voc}, e.g. {no_mask[:5]}')

    seg_out = osp.join(out, 'SegmentationClassAug')
    sets_out = osp.join(out, 'ImageSets', 'Segmentation')
    os.makedirs(seg_out, exist_ok=True)
    os.makedirs(sets_out, exist_ok=True)
    task_list = [tasks[k] for k in sorted(tasks)]
    print(f'converting {len(task_list)} masks to {seg_out}')
    func = partial(convert_one, out_dir=seg_out)
    if nproc > 1:
        results = track_parallel_progress(
            func, task_list, nproc, file=sys.stdout)
    else:
        results = track_progress(func, task_list, file=sys.stdout)
    labels = dict(results)

    write_text_atomic(
        osp.join(sets_out, 'train_aug.txt'),
        ''.join(n + '\n' for n in train_aug))
    if osp.abspath(sets_out) != osp.abspath(sets_voc):
        write_text_atomic(
            osp.join(sets_out, 'val.txt'), ''.join(n + '\n' for n in voc_val))
    write_label_file(labels, osp.join(out, 'image_labels.json'))

    img_src = osp.join(voc_root, 'JPEGImages')
    img_dst = osp.join(out, 'JPEGImages')
    if osp.abspath(out) != osp.abspath(voc_root) and \
            not osp.lexists(img_dst) and osp.isdir(img_src):
        os.symlink(osp.abspath(img_src), img_dst)
    missing = [
        n for n in train_aug + voc_val
        if not osp.isfile(osp.join(img_src, n + '.jpg'))
    ]
    if missing:
        warnings.warn(f'{len(missing)} listed images are not in {img_src} '
                      f'(e.g. {missing[:3]}); the dataset will refuse them')
    print(f'train_aug: {len(train_aug)} images, val: {len(voc_val)} images; '
          f'labels in {osp.join(out, "image_labels.json")}')
    return labels


def parse_args(argv: Optional[Sequence[str]] = None
               ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build VOC 2012 train_aug masks, lists and image labels '
        'from VOC and SBD')
    parser.add_argument('voc_root', help='VOC2012 folder')
    parser.add_argument(
        '--sbd',
        default=None,
        help='SBD benchmark_RELEASE '
        'folder (holds dataset/cls/*.mat)')
    parser.add_argument(
        '--out', default=None, help='output root (default: VOC_ROOT)')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``tools/dataset_converters/voc_aug.py`` (see the module doc)."""
    args = parse_args(argv)
    convert(args.voc_root, args.sbd, args.out, args.nproc)


if __name__ == '__main__':
    main()
