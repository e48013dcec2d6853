"""Helpers shared by the tests (a plain module: importable by name)."""
import os
import os.path as osp
import socket

import numpy as np
import pytest
from PIL import Image

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(HERE)
SHARED_DATA = os.environ.get('WSSS_SHARED_DATA',
                             osp.join(REPO_ROOT, '..', 'shared', 'data'))
TOOLS = osp.join(REPO_ROOT, 'tools', 'dataset_converters')


def shared_data_required() -> bool:
    """Whether missing shared data is a failure, not a skip: in CI
    (``CI=true``, set by CI services) or with ``WSSS_REQUIRE_SHARED_DATA=1``.
    """
    return (os.environ.get('CI', '').lower() == 'true'
            or os.environ.get('WSSS_REQUIRE_SHARED_DATA', '') == '1')


def shared_or_skip(*parts: str) -> str:
    """Path under ../shared/data, or skip (usable in any fixture scope).

    Where :func:`shared_data_required`, a missing path fails the test
    instead, so that CI cannot pass with these tests silently skipped.
    """
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        where = (f'shared data not found: {path} (set WSSS_SHARED_DATA '
                 'to the folder holding camvid/, voc_samples/, minicoco/)')
        if shared_data_required():
            pytest.fail(f'{where}; CI=true or WSSS_REQUIRE_SHARED_DATA=1 '
                        'requires it', pytrace=False)
        pytest.skip(where)
    return path


def write_tiny_voc(root,
                   masks: dict,
                   list_name: str = 'train.txt',
                   palette: bool = True,
                   missing_images=()) -> str:
    """A VOC-layout folder with one small image per mask."""
    img_dir = osp.join(root, 'JPEGImages')
    seg_dir = osp.join(root, 'SegmentationClass')
    list_dir = osp.join(root, 'ImageSets', 'Segmentation')
    for d in (img_dir, seg_dir, list_dir):
        os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        mask = np.asarray(mask, np.uint8)
        if name not in missing_images:
            img = rng.integers(0, 255, mask.shape + (3, ), dtype=np.uint8)
            Image.fromarray(img).save(osp.join(img_dir, name + '.jpg'))
        png = Image.fromarray(mask)
        if palette:
            png.putpalette([v for i in range(256) for v in (i, 0, 255 - i)])
        png.save(osp.join(seg_dir, name + '.png'))
    with open(osp.join(list_dir, list_name), 'w') as f:
        f.write(''.join(n + '\n' for n in masks))
    return str(root)


def free_port() -> int:
    """A TCP port on loopback that is free right now (for torchrun)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
