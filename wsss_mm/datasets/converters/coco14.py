"""Convert COCO instance annotations to class-id PNG masks for WSSS.

Category ids are mapped to contiguous ids ``1..N`` in sorted category-id
order (0 = background; for COCO 2014's 80 categories this is the usual
order); crowd regions are 255 (ignore). Polygons are rasterised with
``cv2.fillPoly`` and RLEs (uncompressed ``counts`` lists and compressed
strings) are decoded here, so pycocotools is not needed.

Writes, under ``--out``::

    annotations/{split}/STEM.png   class-id masks (mode L)
    {split}.txt                    images with at least one object
    image_labels.json              {STEM: [class ids]} (merged across runs)
    classes.json                   ["background", category names...]
    images/{split} -> IMG_DIR      symlink (unless --no-link-images)

``split`` defaults to the JSON file name without ``instances_``
(``instances_train2014.json`` -> ``train2014``).

Example::

    python tools/dataset_converters/coco14_instances_to_masks.py \\
        --ann data/coco/annotations/instances_train2014.json \\
        --img-dir data/coco/train2014 --out data/coco2014 --nproc 8
"""
import argparse
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from wsss_mm.datasets.labels import (coco_category_mapping, labels_from_mask,
                                     read_label_file, write_label_file)
from wsss_mm.utils.fileio import (dump_json_atomic, save_image_atomic,
                                  write_text_atomic)

IGNORE = 255


def rle_string_to_counts(s: str) -> List[int]:
    """Decode a compressed COCO RLE string into run lengths.

    The inverse of pycocotools' ``rleToString`` (LEB128-like, 5 bits per
    character, offset 48, runs after the second stored as differences).
    """
    counts: List[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_counts_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as a compressed COCO RLE string (``rleToString``).
    """
    out = []
    for i, c in enumerate(counts):
        x = int(c)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            ch = x & 0x1f
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return ''.join(out)


def decode_rle(rle: dict) -> np.ndarray:
    """Binary mask of a COCO RLE (``{'size': [h, w], 'counts': ...}``).

    Args:
        rle (dict): Uncompressed (``counts`` list) or compressed
            (``counts`` string or bytes) RLE, column-major as in COCO.

    Returns:
        np.ndarray: ``(h, w)`` uint8 mask of 0/1.
    """
    h, w = (int(v) for v in rle['size'])
    counts = rle['counts']
    if isinstance(counts, bytes):
        counts = counts.decode('ascii')
    if isinstance(counts, str):
        counts = rle_string_to_counts(counts)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != h * w:
        raise ValueError(f'RLE counts sum to {counts.sum()}, expected '
                         f'{h}*{w}={h * w}')
    values = np.zeros(len(counts), np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T.copy()


def polygons_to_mask(polygons: Sequence[Sequence[float]], h: int,
                     w: int) -> np.ndarray:
    """Binary mask of a union of COCO polygons ``[x1, y1, x2, y2, ...]``."""
    mask = np.zeros((h, w), np.uint8)
    for poly in polygons:
        if len(poly) < 6:
            continue
        pts = np.round(np.asarray(poly, np.float64).reshape(-1, 2))
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    return mask


def annotation_mask(ann: dict, h: int, w: int) -> np.ndarray:
    """Binary mask of one COCO annotation (polygons or RLE)."""
    seg = ann['segmentation']
    if isinstance(seg, list):
        return polygons_to_mask(seg, h, w)
    mask = decode_rle(seg)
    if mask.shape != (h, w):
        raise ValueError(f'annotation {ann.get("id")}: RLE size '
                         f'{mask.shape} differs from the image {(h, w)}')
    return mask


def image_mask(anns: Sequence[dict], h: int, w: int,
               to_contiguous: Dict[int, int]) -> np.ndarray:
    """Class-id mask of one image.

    Crowd regions are painted 255 first; objects are painted on top from
    the largest to the smallest, so small objects are not hidden.
    """
    mask = np.zeros((h, w), np.uint8)
    for ann in anns:
        if ann.get('iscrowd', 0):
            mask[annotation_mask(ann, h, w) > 0] = IGNORE
    objects = [a for a in anns if not a.get('iscrowd', 0)]
    objects.sort(key=lambda a: -float(a.get('area', 0)))
    for ann in objects:
        mask[annotation_mask(ann, h, w) > 0] = to_contiguous[
            ann['category_id']]
    return mask


def _convert_one(task: Tuple[dict, List[dict]], out_dir: str,
                 to_contiguous: Dict[int, int]) -> Tuple[str, List[int]]:
    img, anns = task
    stem = osp.splitext(osp.basename(img['file_name']))[0]
    mask = image_mask(anns, int(img['height']), int(img['width']),
                      to_contiguous)
    path = osp.join(out_dir, stem + '.png')
    save_image_atomic(path, Image.fromarray(mask))
    return stem, labels_from_mask(mask, len(to_contiguous) + 1, True,
                                  IGNORE, path=path)


def convert(ann: str,
            img_dir: str,
            out: str,
            split: Optional[str] = None,
            nproc: int = 1,
            link_images: bool = True) -> Dict[str, List[int]]:
    """Convert one COCO instances JSON.

    Args:
        ann (str): Instances JSON.
        img_dir (str): Folder of its images.
        out (str): Output root.
        split (str, optional): Split name; defaults to the JSON stem
            without ``instances_``.
        nproc (int): Worker processes.
        link_images (bool): Symlink ``out/images/{split}`` to ``img_dir``.

    Returns:
        dict: ``{stem: class ids}`` of the converted images.
    """
    for path, what in ((ann, 'annotation JSON'), (img_dir, 'image folder')):
        if not osp.exists(path):
            raise FileNotFoundError(f'{what} not found: {path}')
    with open(ann, encoding='utf-8') as f:
        coco = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise ValueError(f'{ann} has no "{key}": not a COCO instances '
                             'JSON')
    split = split or osp.splitext(osp.basename(ann))[0].replace(
        'instances_', '')
    to_contiguous, classes = coco_category_mapping(coco['categories'], ann)

    classes_path = osp.join(out, 'classes.json')
    if osp.isfile(classes_path):
        with open(classes_path, encoding='utf-8') as f:
            old = json.load(f)
        if old != classes:
            raise ValueError(
                f'{classes_path} lists other classes ({len(old)}) than the '
                f'categories of {ann} ({len(classes)}): convert every split '
                'of one dataset into one --out folder, another dataset into '
                'another folder')

    by_image: Dict[int, List[dict]] = {im['id']: [] for im in coco['images']}
    for a in coco['annotations']:
        if a['category_id'] not in to_contiguous:
            raise ValueError(f'{ann}: annotation {a.get("id")} has unknown '
                             f'category id {a["category_id"]}')
        if a['image_id'] not in by_image:
            raise ValueError(f'{ann}: annotation {a.get("id")} refers to '
                             f'unknown image id {a["image_id"]}')
        by_image[a['image_id']].append(a)
    missing = [
        im['file_name'] for im in coco['images']
        if not osp.isfile(osp.join(img_dir, im['file_name']))
    ]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} images of {ann} are not in {img_dir}, e.g. '
            f'{missing[:3]}')

    mask_dir = osp.join(out, 'annotations', split)
    os.makedirs(mask_dir, exist_ok=True)
    tasks = [(im, by_image[im['id']]) for im in coco['images']]
    print(f'{split}: converting {len(tasks)} images of {ann} to {mask_dir}')
    func = partial(_convert_one, out_dir=mask_dir, to_contiguous=to_contiguous)
    if nproc > 1:
        results = track_parallel_progress(func, tasks, nproc, file=sys.stdout)
    else:
        results = track_progress(func, tasks, file=sys.stdout)
    labels = dict(results)
    names = sorted(n for n, ids in labels.items() if ids)
    write_text_atomic(
        osp.join(out, f'{split}.txt'), ''.join(n + '\n' for n in names))

    label_path = osp.join(out, 'image_labels.json')
    merged = read_label_file(label_path) if osp.isfile(label_path) else {}
    merged.update(labels)
    write_label_file(merged, label_path)
    dump_json_atomic(classes, classes_path)
    link = osp.join(out, 'images', split)
    if link_images and not osp.lexists(link):
        os.makedirs(osp.dirname(link), exist_ok=True)
        os.symlink(osp.abspath(img_dir), link)
    print(f'{split}: {len(names)} of {len(labels)} images have objects '
          f'(listed in {split}.txt); {len(to_contiguous)} categories -> ids '
          f'1..{len(to_contiguous)}')
    return labels


def parse_args(argv: Optional[Sequence[str]] = None
               ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO instances JSON -> class-id PNG masks, image list '
        'and image-level labels')
    parser.add_argument('--ann', required=True, help='instances JSON')
    parser.add_argument('--img-dir', required=True, help='image folder')
    parser.add_argument('--out', required=True, help='output root')
    parser.add_argument(
        '--split',
        default=None,
        help='split name (default: from the JSON name)')
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument(
        '--no-link-images',
        action='store_true',
        help='do not symlink out/images/SPLIT to --img-dir')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``tools/dataset_converters/coco14_instances_to_masks.py``."""
    args = parse_args(argv)
    convert(args.ann, args.img_dir, args.out, args.split, args.nproc,
            not args.no_link_images)


if __name__ == '__main__':
    main()
