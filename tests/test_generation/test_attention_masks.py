"""Mask extraction from constructed attention maps with known answers."""
import numpy as np
import pytest
import torch
from PIL import Image

from wsss_mm.generation.diffusion.attention import AttentionStore
from wsss_mm.generation.masks import (AttentionMaskExtractor,
                                      save_confidence_png, save_mask_png)
from wsss_mm.generation.utils.masks import (IGNORE_INDEX, adaptive_labels,
                                            adaptive_threshold, confidence,
                                            crf_refine_labels,
                                            labels_from_scores, refined_scores)


def test_labels_from_scores_bands():
    s = np.array([[[0.9, 0.55, 0.2, 0.61]], [[0.1, 0.3, 0.45, 0.65]]])
    m = labels_from_scores(s, 0.6, 0.5, class_ids=[7, 3])
    assert m.tolist() == [[7, IGNORE_INDEX, 0, 3]]
    # without a band, uncertain pixels are background
    assert labels_from_scores(s, 0.6).tolist() == [[1, 0, 0, 2]]
    with pytest.raises(ValueError):
        labels_from_scores(s, 0.6, class_ids=[1])
    with pytest.raises(ValueError):
        labels_from_scores(s, 0.6, class_ids=[1, 255])


def test_adaptive_threshold_densest_bin():
    v = np.array([0.1, 0.46, 0.475, 0.476, 0.479, 0.51, 0.9])
    # 8 bins of 0.01 over [0.45, 0.53): [0.47, 0.48) holds three values
    assert adaptive_threshold(v) == pytest.approx(0.475)
    assert adaptive_threshold(np.array([0.1, 0.9])) == pytest.approx(0.49)
    assert adaptive_threshold(v, 0.4, 0.6, num_bins=2) == pytest.approx(0.45)


def test_adaptive_labels():
    a = np.array([[0.9, 0.5, 0.47, 0.46, 0.2]])
    b = np.array([[0.95, 0.1, 0.1, 0.1, 0.1]])
    # class a: densest bin [0.46, 0.47) once, [0.47, 0.48) once,
    # [0.50, 0.51) once -> first max: [0.46, 0.47), threshold 0.465
    mask, thrs = adaptive_labels(
        np.stack([a, b]), [1, 2], ignore_margin=0.02)
    assert thrs[0] == pytest.approx(0.465) and thrs[1] == pytest.approx(0.49)
    # pixel 0: both pass, b higher; 1, 2 pass a; 3 is 0.005 under a's
    # threshold -> ignored; 4 background
    assert mask.tolist() == [[2, 1, 1, IGNORE_INDEX, 0]]


def test_self_attention_refinement_spreads_within_groups():
    h = w = 2
    # pixels 0,1 attend to each other only, pixels 2,3 likewise
    s = np.zeros((4, 4), np.float32)
    s[:2, :2] = 0.5
    s[2:, 2:] = 0.5
    cross = np.zeros((1, h, w), np.float32)
    cross[0, 0, 0] = 1.0  # the class token hits pixel 0 only
    r = refined_scores(cross, s, (h, w))
    np.testing.assert_allclose(r[0], [[1, 1], [0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match='does not match'):
        refined_scores(cross, np.eye(9), (2, 2))


def test_confidence():
    s = np.array([[[0.9, 0.5, 0.1]], [[0.2, 0.3, 0.05]]])
    np.testing.assert_allclose(confidence(s), [[0.9, 0.5, 0.9]])


def test_crf_cleans_noise_and_keeps_ignore():
    pytest.importorskip('pydensecrf.densecrf')
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, :8] = (255, 0, 0)
    img[:, 8:] = (0, 0, 255)
    scores = np.zeros((1, 16, 16), np.float32)
    scores[0, :, :8] = 0.8
    scores[0, 3, 3] = 0.3  # noise inside the red object
    scores[0, 12, 12] = 0.7  # noise in the blue background
    mask = labels_from_scores(scores, 0.6, class_ids=[5])
    mask[0, 0] = IGNORE_INDEX
    assert mask[3, 3] == 0 and mask[12, 12] == 5
    out = crf_refine_labels(img, scores, mask, [5], n_iters=5)
    expected = np.zeros((16, 16), np.uint8)
    expected[:, :8] = 5
    expected[0, 0] = IGNORE_INDEX
    np.testing.assert_array_equal(out, expected)


def _store_with(cross_maps, self_map=None):
    """A store holding given (h, w, T) cross maps (one sample, 1 head)."""
    store = AttentionStore(conditional_half=False,
                           self_resolutions=[(2, 2)] if self_map is not None
                           else ())
    for (h, w), m in cross_maps.items():
        store.add('cross', (h, w), torch.as_tensor(m).reshape(1, h * w, -1),
                  heads=1)
    if self_map is not None:
        store.add('self', (2, 2), torch.as_tensor(self_map)[None], heads=1)
    return store


def test_extractor_rules_on_a_store(tmp_path):
    T = 4
    m = np.zeros((2, 2, T), np.float32)
    m[..., 0] = 1.0  # BOS soaks up attention
    m[0, 0] = [0.2, 0.8, 0.0, 0.0]  # token 1 (class 3) at top-left
    m[1, 1] = [0.2, 0.0, 0.4, 0.4]  # tokens 2-3 (class 9) bottom-right
    store = _store_with({(2, 2): m})
    tokens = {3: [1], 9: [2, 3]}
    fixed = AttentionMaskExtractor(rule='fixed', fg_thr=0.9, ignore_thr=0.4)
    mask, conf = fixed(store, tokens, (2, 2))
    assert mask.tolist() == [[3, 0], [0, 9]]
    assert conf.shape == (2, 2) and conf.min() >= 0.5
    adaptive = AttentionMaskExtractor(rule='adaptive')
    assert adaptive(store, tokens, (2, 2))[0].tolist() == [[3, 0], [0, 9]]
    # self-attention joins top-left with bottom-left
    s = np.array([[.5, 0, .5, 0], [0, 1, 0, 0], [.5, 0, .5, 0], [0, 0, 0, 1]],
                 np.float32)
    store = _store_with({(2, 2): m}, s)
    refined = AttentionMaskExtractor(self_resolution=(2, 2))
    assert refined.self_resolutions == [(2, 2)]
    mask, _ = refined(store, tokens, (2, 2))
    assert mask.tolist() == [[3, 0], [3, 9]]
    with pytest.raises(ValueError, match='self_resolution'):
        AttentionMaskExtractor(rule='self_refined')
    with pytest.raises(ValueError, match='was not captured'):
        AttentionMaskExtractor(self_resolution=(4, 4))(store, tokens, (2, 2))

    save_mask_png(str(tmp_path / 'm.png'), mask)
    back = np.array(Image.open(tmp_path / 'm.png'))
    np.testing.assert_array_equal(back, mask)
    save_confidence_png(str(tmp_path / 'c.png'), np.array([[0.5, 1.0]]))
    assert np.array(Image.open(tmp_path / 'c.png')).tolist() == [[128, 255]]
