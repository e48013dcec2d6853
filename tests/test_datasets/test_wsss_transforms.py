"""Tests of LoadWSSSImageFromFile, LoadImageLevelLabels, PackWSSSInputs,
CropTile."""
import numpy as np
import pytest
import torch
from mmcv.transforms import TRANSFORMS as MMCV_TRANSFORMS
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from wsss_mm.datasets.transforms import (CropTile, ImageLoadError,
                                         LoadImageLevelLabels,
                                         LoadWSSSImageFromFile, PackWSSSInputs)
from wsss_mm.registry import TRANSFORMS


def test_registered_in_wsss_scope():
    for name in ('LoadWSSSImageFromFile', 'LoadImageLevelLabels',
                 'PackWSSSInputs', 'CropTile'):
        assert TRANSFORMS.get(name).__module__.startswith('wsss_mm.')
    # mmseg transforms resolve through the parent registry
    assert TRANSFORMS.get('LoadAnnotations') is not None
    # our loader under mmcv's name in the wsss_mm scope (mmseg's
    # MMSegInferencer looks the loader up by that name); mmcv's elsewhere
    assert TRANSFORMS.get('LoadImageFromFile') is LoadWSSSImageFromFile
    assert MMCV_TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile


def test_image_labels_with_background():
    results = dict(
        img_path='a.jpg',
        img_labels=[5, 15],
        num_classes=21,
        with_background=True)
    out = LoadImageLevelLabels()(results)
    v = out['gt_image_labels']
    assert v.dtype == np.float32 and v.shape == (21, )
    assert np.flatnonzero(v).tolist() == [0, 5, 15]


def test_image_labels_without_background():
    results = dict(
        img_path='t.jpg',
        img_labels=[0, 3],
        num_classes=11,
        with_background=False)
    v = LoadImageLevelLabels()(results)['gt_image_labels']
    # id 0 is a real class (Sky) here, not a background that is forced on
    assert np.flatnonzero(v).tolist() == [0, 3]
    results = dict(
        img_path='t.jpg',
        img_labels=[3],
        num_classes=11,
        with_background=False)
    v = LoadImageLevelLabels()(results)['gt_image_labels']
    assert np.flatnonzero(v).tolist() == [3]


def test_image_labels_empty_is_refused():
    results = dict(
        img_path='/data/x/empty.jpg',
        img_labels=[],
        num_classes=21,
        with_background=True)
    with pytest.raises(ValueError, match='empty.jpg') as e:
        LoadImageLevelLabels()(dict(results))
    assert 'forbids images without foreground labels' in str(e.value)
    v = LoadImageLevelLabels(allow_empty=True)(
        dict(results))['gt_image_labels']
    assert np.flatnonzero(v).tolist() == [0]


def test_image_labels_bad_input():
    with pytest.raises(ValueError, match='out of range'):
        LoadImageLevelLabels()(
            dict(
                img_path='a.jpg',
                img_labels=[21],
                num_classes=21,
                with_background=True))
    with pytest.raises(KeyError, match='num_classes'):
        LoadImageLevelLabels()(dict(img_path='a.jpg', img_labels=[1]))


def _results(with_seg: bool):
    img = np.random.randint(0, 255, (8, 10, 3), np.uint8)
    results = dict(
        img=img,
        img_path='a.jpg',
        img_shape=(8, 10),
        ori_shape=(8, 10),
        img_labels=[2],
        num_classes=4,
        with_background=True,
        seg_fields=[])
    results = LoadImageLevelLabels()(results)
    if with_seg:
        results['gt_seg_map'] = np.full((8, 10), 2, np.uint8)
        results['seg_fields'].append('gt_seg_map')
    return results


def test_pack_wsss_inputs_image_labels_field():
    packed = PackWSSSInputs()(_results(with_seg=False))
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 8, 10)
    assert 'gt_image_labels' in sample  # a data field ...
    assert 'gt_image_labels' not in sample.metainfo_keys()  # ... not meta
    labels = sample.gt_image_labels
    assert isinstance(labels, torch.Tensor)
    assert labels.dtype == torch.float32
    assert labels.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert sample.metainfo['img_labels'] == [2]
    assert 'gt_sem_seg' not in sample  # not loaded -> not packed


def test_pack_wsss_inputs_with_seg_map():
    sample = PackWSSSInputs()(_results(with_seg=True))['data_samples']
    assert 'gt_sem_seg' in sample
    assert sample.gt_sem_seg.data.shape == (1, 8, 10)
    assert int(sample.gt_sem_seg.data.max()) == 2
    # labels survive collation into a batch
    stacked = torch.stack([sample.gt_image_labels] * 2)
    assert stacked.shape == (2, 4)


def test_crop_tile():
    img = np.arange(360 * 480 * 3, dtype=np.int64).reshape(360, 480, 3)
    seg = np.arange(360 * 480, dtype=np.int64).reshape(360, 480) % 251
    results = dict(
        img=img,
        gt_seg_map=seg,
        seg_fields=['gt_seg_map'],
        tile_box=(240, 120, 360, 240),
        img_shape=(360, 480),
        ori_shape=(360, 480),
        img_path='x.jpg')
    out = CropTile()(results)
    assert out['img'].shape == (120, 120, 3)
    assert np.array_equal(out['img'], img[120:240, 240:360])
    assert np.array_equal(out['gt_seg_map'], seg[120:240, 240:360])
    assert out['img_shape'] == (120, 120) and out['ori_shape'] == (120, 120)


def test_crop_tile_errors():
    results = dict(
        img=np.zeros((10, 10, 3), np.uint8),
        img_path='x.jpg',
        seg_fields=[],
        tile_box=(5, 5, 20, 10))
    with pytest.raises(ValueError, match='outside image x.jpg'):
        CropTile()(results)
    with pytest.raises(KeyError, match='tile_box'):
        CropTile()(dict(img=np.zeros((4, 4, 3)), seg_fields=[]))


def test_load_image_ok(tmp_path):
    path = tmp_path / 'ok.jpg'
    Image.fromarray(np.full((6, 7, 3), 100, np.uint8)).save(path)
    out = LoadWSSSImageFromFile()(dict(img_path=str(path)))
    assert out['img'].shape == (6, 7, 3)
    assert out['img_shape'] == (6, 7) and out['ori_shape'] == (6, 7)


def test_load_image_missing(tmp_path):
    path = str(tmp_path / 'nope.jpg')
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        LoadWSSSImageFromFile()(dict(img_path=path))
    assert LoadWSSSImageFromFile(ignore_empty=True)(
        dict(img_path=path)) is None


@pytest.mark.parametrize('content', [b'', b'this is not a jpeg at all'])
def test_load_image_corrupt(tmp_path, content):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match='broken.jpg') as e:
        LoadWSSSImageFromFile()(dict(img_path=str(path)))
    assert isinstance(e.value, OSError)
    assert 'not a valid image' in str(e.value)
    # the same class under mmcv's name in the wsss_mm scope
    with pytest.raises(ImageLoadError, match='broken.jpg'):
        TRANSFORMS.build(dict(type='LoadImageFromFile'))(
            dict(img_path=str(path)))
