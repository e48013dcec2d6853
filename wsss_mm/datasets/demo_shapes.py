"""A tiny synthetic VOC-layout dataset of coloured shapes for CPU demos.

``generate_demo_dataset`` writes images of 1-3 shapes (circle, square,
triangle; each class with its own colour family) on a textured, noisy
background, with palette masks and image-level labels, so that a tiny ViT
learns it on a CPU within minutes. ``tools/dataset_converters/
make_demo_data.py`` is the command-line entry point.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

from wsss_mm.registry import DATASETS
from .voc import VOC_PALETTE, VOCWSSSDataset

DEMO_CLASSES = ('background', 'circle', 'square', 'triangle')
DEMO_PALETTE = VOC_PALETTE[:len(DEMO_CLASSES)]
# hue ranges (OpenCV hue, 0..179) of the classes' colour families
_HUES = {1: (0, 12), 2: (50, 75), 3: (105, 130)}
META_FILE = 'demo_meta.json'
LABEL_FILE = 'image_labels.json'


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Low-saturation gradient with blotchy texture and pixel noise (BGR)."""
    c0 = rng.uniform(60, 190, 3)
    c1 = c0 + rng.uniform(-50, 50, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    blotch = rng.normal(0, 18, (6, 6, 3)).astype(np.float32)
    img += cv2.resize(blotch, (size, size), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 5, (size, size, 3))
    return img


def _shape_mask(cls: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """Binary mask of one shape of class ``cls`` at a random place."""
    mask = np.zeros((size, size), np.uint8)
    r = rng.uniform(0.1, 0.22) * size
    cx, cy = rng.uniform(r, size - r, 2)
    if cls == 1:  # circle
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(r)), 1,
                   -1)
        return mask
    theta = rng.uniform(0, 2 * np.pi)
    if cls == 2:  # square, rotated
        angles = theta + np.arange(4) * np.pi / 2
        rad = r * 1.1
    else:  # equilateral triangle, rotated
        angles = theta + np.arange(3) * 2 * np.pi / 3
        rad = r * 1.25
    pts = np.stack([cx + rad * np.cos(angles), cy + rad * np.sin(angles)], 1)
    pts = np.clip(np.round(pts), 0, size - 1).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask


def _object_colour(cls: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = _HUES[cls]
    hsv = np.array(
        [[[rng.uniform(lo, hi),
           rng.uniform(150, 255),
           rng.uniform(130, 255)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def make_demo_sample(rng: np.random.Generator,
                     size: int = 128) -> Tuple[np.ndarray, np.ndarray]:
    """One synthetic image and its class-id mask.

    Args:
        rng (np.random.Generator): Random generator.
        size (int): Image side.

    Returns:
        tuple: ``(img, mask)``: ``(size, size, 3)`` uint8 RGB image and
        ``(size, size)`` uint8 mask (0 background, 1 circle, 2 square,
        3 triangle).
    """
    img = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, 4))
        for _ in range(30):  # limit overlap with earlier objects
            obj = _shape_mask(cls, rng, size).astype(bool)
            if (mask[obj] > 0).mean() < 0.25:
                break
        colour = _object_colour(cls, rng)
        shade = rng.normal(0, 10, (size, size, 1))
        img[obj] = colour + shade[obj] + rng.normal(0, 6, (obj.sum(), 3))
        mask[obj] = cls
    img = np.clip(img, 0, 255).astype(np.uint8)[..., ::-1]  # BGR -> RGB
    return np.ascontiguousarray(img), mask


def _palette_image(mask: np.ndarray) -> Image.Image:
    out = Image.fromarray(mask.astype(np.uint8))  # mode L
    flat = [v for rgb in VOC_PALETTE for v in rgb]
    out.putpalette(flat + [0] * (768 - len(flat)))  # L -> P
    return out


def demo_dataset_complete(root: str,
                          num_train: int = 200,
                          num_val: int = 40,
                          size: int = 128,
                          seed: int = 0) -> bool:
    """Whether ``root`` holds a complete dataset made with these settings."""
    meta_path = osp.join(root, META_FILE)
    if not osp.isfile(meta_path):
        return False
    try:
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if meta != dict(
            num_train=num_train, num_val=num_val, size=size, seed=seed):
        return False
    names = [f'train_{i:04d}' for i in range(num_train)] + \
        [f'val_{i:04d}' for i in range(num_val)]
    return osp.isfile(osp.join(root, LABEL_FILE)) and all(
        osp.isfile(osp.join(root, 'JPEGImages', n + '.jpg'))
        and osp.isfile(osp.join(root, 'SegmentationClass', n + '.png'))
        for n in names)


def generate_demo_dataset(root: str,
                          num_train: int = 200,
                          num_val: int = 40,
                          size: int = 128,
                          seed: int = 0) -> None:
    """Write the synthetic shapes dataset in VOC layout.

    Layout::

        root/
          JPEGImages/{train,val}_NNNN.jpg         quality 95
          SegmentationClass/{train,val}_NNNN.png  palette masks, ids 0..3
          ImageSets/Segmentation/train.txt  val.txt
          image_labels.json                       {name: [class ids]}
          demo_meta.json                          generation settings

    The output is deterministic given the arguments (train and val use
    separate streams, so ``num_val`` does not change the train images).
    240 images of 128x128 take about 3 MB.

    Args:
        root (str): Output directory (created).
        num_train (int): Training images. Defaults to 200.
        num_val (int): Validation images. Defaults to 40.
        size (int): Image side in pixels. Defaults to 128.
        seed (int): Random seed. Defaults to 0.
    """
    if size < 16:
        raise ValueError(f'size must be >= 16, got {size}')
    img_dir = osp.join(root, 'JPEGImages')
    seg_dir = osp.join(root, 'SegmentationClass')
    list_dir = osp.join(root, 'ImageSets', 'Segmentation')
    for d in (img_dir, seg_dir, list_dir):
        os.makedirs(d, exist_ok=True)
    labels = {}
    for split, num, stream in (('train', num_train, 0), ('val', num_val, 1)):
        rng = np.random.default_rng([seed, stream])
        names: List[str] = []
        for i in range(num):
            name = f'{split}_{i:04d}'
            img, mask = make_demo_sample(rng, size)
            Image.fromarray(img).save(
                osp.join(img_dir, name + '.jpg'), quality=95)
            _palette_image(mask).save(osp.join(seg_dir, name + '.png'))
            labels[name] = [int(c) for c in np.unique(mask) if c != 0]
            names.append(name)
        with open(osp.join(list_dir, f'{split}.txt'), 'w') as f:
            f.write(''.join(n + '\n' for n in names))
    with open(osp.join(root, LABEL_FILE), 'w', encoding='utf-8') as f:
        json.dump(labels, f)
    with open(osp.join(root, META_FILE), 'w', encoding='utf-8') as f:
        json.dump(
            dict(num_train=num_train, num_val=num_val, size=size, seed=seed),
            f)


@DATASETS.register_module()
class DemoShapesDataset(VOCWSSSDataset):
    """Synthetic shapes in VOC layout (see :func:`generate_demo_dataset`).

    Classes: background, circle, square, triangle (``with_background``).
    Image-level labels are read from ``image_labels.json`` written by the
    generator (derived from the masks when it is absent).

    Args:
        data_root (str): Dataset root, e.g. ``'data/demo_shapes'``.
        ann_file (str): Defaults to ``'ImageSets/Segmentation/train.txt'``.
        data_prefix (dict): Defaults to ``dict(img_path='JPEGImages',
            seg_map_path='SegmentationClass')``.
        label_file (str, optional): Defaults to ``'image_labels.json'``.
        **kwargs: See :class:`VOCWSSSDataset`.
    """
    METAINFO = dict(
        classes=DEMO_CLASSES, palette=DEMO_PALETTE, with_background=True)
    with_background = True
    converter_hint = ('run `python tools/dataset_converters/'
                      'make_demo_data.py --out DATA_ROOT`')

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'ImageSets/Segmentation/train.txt',
                 data_prefix: dict = dict(
                     img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 label_file: Optional[str] = LABEL_FILE,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            label_file=label_file,
            **kwargs)
