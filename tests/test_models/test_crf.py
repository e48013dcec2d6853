import sys

import numpy as np
import pytest

from wsss_mm.models.utils.crf import (TOCO_CRF, VITPCM_CRF, crf_labels,
                                      dense_crf)

pytest.importorskip('pydensecrf.densecrf')

H, W, EDGE, OFFSET_EDGE = 40, 64, 32, 24


def _edge_image():
    """Red left of column EDGE, blue right of it, with mild noise."""
    rng = np.random.default_rng(0)
    img = np.zeros((H, W, 3), np.int64)
    img[:, :EDGE] = (200, 40, 40)
    img[:, EDGE:] = (40, 40, 200)
    img += rng.integers(-10, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _offset_probs():
    """Two classes whose boundary sits 8 px left of the colour edge."""
    p = np.zeros((2, H, W), np.float32)
    p[0, :, :OFFSET_EDGE] = 0.65
    p[0, :, OFFSET_EDGE:] = 0.35
    p[1] = 1 - p[0]
    return p


def test_published_parameters():
    assert VITPCM_CRF == dict(n_iters=10, pos_xy_std=1, pos_w=3,
                              bi_xy_std=67, bi_rgb_std=3, bi_w=4)
    assert TOCO_CRF == dict(n_iters=10, pos_xy_std=1, pos_w=1,
                            bi_xy_std=121, bi_rgb_std=5, bi_w=4)


@pytest.mark.parametrize('cfg', [VITPCM_CRF, TOCO_CRF])
def test_boundary_moves_to_colour_edge(cfg):
    img, probs = _edge_image(), _offset_probs()
    before = probs.argmax(0)
    assert (before[:, OFFSET_EDGE:EDGE] == 1).all()
    q = dense_crf(img, probs, **cfg)
    assert q.shape == (2, H, W) and q.dtype == np.float32
    np.testing.assert_allclose(q.sum(0), 1, atol=1e-4)
    after = q.argmax(0)
    assert (after[:, :EDGE] == 0).all()
    assert (after[:, EDGE:] == 1).all()


def test_crf_labels_restricted_to_given_classes():
    img = _edge_image()
    probs = np.zeros((5, H, W), np.float32)
    probs[[0, 3]] = _offset_probs()
    probs[4] = 0.01  # not allowed below, must never appear
    out = crf_labels(img, probs, labels=np.array([0, 3]), **VITPCM_CRF)
    assert out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 3}
    assert (out[:, EDGE:] == 3).all()
    single = crf_labels(img, probs, labels=np.array([3]))
    assert (single == 3).all()


def test_bad_inputs():
    img = _edge_image()
    with pytest.raises(ValueError, match='uint8'):
        dense_crf(img.astype(np.float32), _offset_probs())
    with pytest.raises(ValueError, match='probs'):
        dense_crf(img, _offset_probs()[:, :10])


def test_missing_pydensecrf_message(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pydensecrf.densecrf', None)
    with pytest.raises(ImportError, match='pip install pydensecrf2'):
        dense_crf(_edge_image(), _offset_probs())


def test_prune_below_skips_negligible_classes():
    img = _edge_image()
    probs = np.full((6, H, W), 1e-5, np.float32)
    probs[[1, 4]] = _offset_probs() - 2e-5
    full = dense_crf(img, probs, **VITPCM_CRF)
    pruned = dense_crf(img, probs, prune_below=1e-3, **VITPCM_CRF)
    assert pruned.shape == full.shape
    assert (pruned[[0, 2, 3, 5]] == 0).all()
    np.testing.assert_array_equal(pruned.argmax(0), full.argmax(0))
    assert (pruned.argmax(0)[:, EDGE:] == 4).all()
