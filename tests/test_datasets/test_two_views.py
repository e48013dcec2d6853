import numpy as np

from wsss_mm.registry import TRANSFORMS


def _results(h=64, w=80):
    rng = np.random.RandomState(0)
    img = rng.randint(0, 255, (h, w, 3)).astype(np.uint8)
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w),
                img_path='x.png', gt_image_labels=np.array([0., 1., 1.]),
                img_labels=[1, 2])


def test_two_views_same_labels_different_crops():
    np.random.seed(0)
    t = TRANSFORMS.build(dict(type='FSRTwoViews', crop_size=32))
    out = t(_results())
    assert isinstance(out['img'], list) and len(out['img']) == 2
    v1, v2 = out['img']
    assert v1.shape == v2.shape == (32, 32, 3) and v1.dtype == np.uint8
    assert not np.array_equal(v1, v2)
    assert out['gt_image_labels'].tolist() == [0., 1., 1.]
    assert out['img_shape'] == (32, 32)
    packed = TRANSFORMS.build(dict(type='PackMultiViewWSSSInputs'))(out)
    x1, x2 = packed['inputs']
    assert x1.shape == x2.shape == (3, 32, 32)
    assert np.array_equal(x2.permute(1, 2, 0).numpy(), v2)
    ds = packed['data_samples']
    assert ds.gt_image_labels.tolist() == [0., 1., 1.]
    assert 'gt_sem_seg' not in ds


def test_view_pipeline_overrides_default():
    t = TRANSFORMS.build(
        dict(type='FSRTwoViews',
             view_pipeline=[dict(type='RandomFlip', prob=1.0)]))
    res = _results()
    out = t(res)
    v1, v2 = out['img']
    assert np.array_equal(v1, res['img'][:, ::-1])
    assert np.array_equal(v2, v1)
    # single-view packing is unchanged
    packed = TRANSFORMS.build(dict(type='PackMultiViewWSSSInputs'))(
        _results())
    assert packed['inputs'].shape == (3, 64, 80)


def test_hue_shift_handles_negative_factors():
    import colorsys

    from wsss_mm.datasets.transforms.two_view import adjust_hue
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 2] = 255  # pure red (BGR)
    for factor in (-0.1, 0.1, -0.5, 1 / 3):
        out = adjust_hue(img, factor)
        b, g, r = out[0, 0].astype(float) / 255
        h = colorsys.rgb_to_hsv(r, g, b)[0]
        expected = (int(factor * 255) % 256) / 256
        assert abs(h - expected) < 0.01, (factor, h, expected)
    t = TRANSFORMS.build(dict(type='WSSSColorJitter', hue=0.5))
    for seed in range(10):  # negative hue draws included
        np.random.seed(seed)
        assert t(dict(img=_results()['img']))['img'].shape == (64, 80, 3)
