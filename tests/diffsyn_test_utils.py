"""Tiny fixtures of the diffusion-synthetic datasets, written by tests."""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

WNIDS50 = [f'n{1000000 + 7 * i:08d}' for i in range(50)]


def write_tiny_imagenets(root: str, subset: int = 50) -> str:
    """ImageNet-S layout with ``subset`` wnid folders, 2 labelled images.

    Image ``a`` (class 3) has a 2x2 object of class 3 and an ignored pixel;
    image ``b`` (class 50) a row of class 50.
    """
    from wsss_mm.datasets import encode_imagenets_mask
    wnids = [f'n{1000000 + 7 * i:08d}' for i in range(subset)]
    for split in ('validation', 'validation-segmentation'):
        for w in wnids:
            os.makedirs(osp.join(root, split, w), exist_ok=True)
    rng = np.random.RandomState(0)
    for name, cid in (('a', 3), ('b', subset)):
        w = wnids[cid - 1]
        ids = np.zeros((8, 8), np.int64)
        if name == 'a':
            ids[2:4, 2:4] = cid
            ids[0, 0] = 1000
        else:
            ids[5] = cid
        Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).save(
            osp.join(root, 'validation', w, f'{name}.JPEG'), format='JPEG')
        Image.fromarray(encode_imagenets_mask(ids)).save(
            osp.join(root, 'validation-segmentation', w, f'{name}.png'))
    with open(osp.join(root, 'categories.txt'), 'w') as f:
        f.write('\n'.join(wnids) + '\n')
    return root


def write_tiny_cityscapes(root: str, split: str = 'val') -> str:
    """Cityscapes layout (leftImg8bit + gtFine labelTrainIds), 2 images."""
    rng = np.random.RandomState(1)
    for i in range(2):
        img_dir = osp.join(root, 'leftImg8bit', split, 'city')
        gt_dir = osp.join(root, 'gtFine', split, 'city')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        stem = f'city_000000_00000{i}'
        Image.fromarray((rng.rand(16, 32, 3) * 255).astype(np.uint8)).save(
            osp.join(img_dir, stem + '_leftImg8bit.png'))
        lab = np.zeros((16, 32), np.uint8)  # road
        lab[:4] = 10  # sky
        lab[8:12, 10:20] = 13  # car
        lab[0, 0] = 255
        Image.fromarray(lab).save(
            osp.join(gt_dir, stem + '_gtFine_labelTrainIds.png'))
    return root


def write_tiny_store(root: str, classes=('circle', 'square', 'triangle'),
                     n: int = 2) -> str:
    """A generation store with ``n`` image+mask entries (no diffusion)."""
    from wsss_mm.generation.store import GenerationStore
    from wsss_mm.utils.fileio import dump_json_atomic
    store = GenerationStore(root).open()
    rng = np.random.RandomState(2)
    for i in range(n):
        mask = np.zeros((16, 16), np.uint8)
        mask[4:12, 4:12] = 1 + i % len(classes)
        mask[3, 4:12] = 255
        img = (rng.rand(16, 16, 3) * 255).astype(np.uint8)
        store.add(f'e{i}', dict(image=img, mask=mask),
                  dict(img_labels=[1 + i % len(classes)]))
    store.merge(order=[f'e{i}' for i in range(n)])
    dump_json_atomic(
        dict(classes=['background'] + list(classes), ignore_index=255),
        osp.join(root, 'classes.json'))
    return root


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def diffsyn_data_root(kind: str, demo_root: str, tmp_path) -> dict:
    """Dataset overrides pointing the diffsyn configs' datasets at tiny
    fixtures (for tests/test_configs.py)."""
    root = str(tmp_path / kind)
    if kind == 'DiffSynDataset':
        if not osp.isdir(root):
            write_tiny_store(root)
        return dict(data_root=root)
    if kind == 'ImageFolderDataset':
        return dict(data_root=osp.join(demo_root, 'JPEGImages'))
    if kind == 'CityscapesDataset':
        if not osp.isdir(root):
            write_tiny_cityscapes(root)
        return dict(data_root=root)
    if kind == 'ImageNetSDataset':
        if not osp.isdir(root):
            write_tiny_imagenets(root)
        return dict(data_root=root, subset=50)
    raise AssertionError(kind)
