import pytest
import torch

from wsss_mm.models.utils import (adaptive_k_pool, gap_pool, gmp_pool,
                                  image_labels_from_views, pool_patch_scores,
                                  topk_pool)


def _scores(*columns):
    """[1, N, C] from per-class columns of patch scores."""
    return torch.tensor(columns, dtype=torch.float32).t()[None]


def test_gmp_gap_topk_values():
    scores = _scores([0.1, 0.9, 0.4, 0.6], [0.5, 0.5, 0.2, 0.0])
    assert torch.allclose(gmp_pool(scores), torch.tensor([[0.9, 0.5]]))
    assert torch.allclose(gap_pool(scores), torch.tensor([[0.5, 0.3]]))
    assert torch.allclose(topk_pool(scores, 2), torch.tensor([[0.75, 0.5]]))


def test_topk_with_k_n_equals_gap():
    scores = torch.rand(3, 7, 5)
    assert torch.allclose(topk_pool(scores, 7), gap_pool(scores))
    # k above N is clamped to N.
    assert torch.allclose(topk_pool(scores, 50), gap_pool(scores))
    with pytest.raises(ValueError):
        topk_pool(scores, 0)


def test_adaptive_k_hand_computed():
    # class 0: 0.9, 0.85, 0.82 within 0.1 of the max, 0.5 not -> K=3
    # class 1: one outlier far above the rest -> K=1
    # class 2: absent class, all low: 0.05, 0.04 within 0.1 of 0.05 and
    #          0.01, 0.0 too -> mean of all four
    scores = _scores([0.5, 0.9, 0.82, 0.85], [0.95, 0.2, 0.3, 0.1],
                     [0.05, 0.04, 0.01, 0.0])
    out = adaptive_k_pool(scores, k_max=6, gap=0.1)
    expected = torch.tensor([[(0.9 + 0.85 + 0.82) / 3, 0.95, 0.025]])
    assert torch.allclose(out, expected)


def test_adaptive_k_boundary_is_inclusive():
    # 0.75 - 0.25 == 0.5 exactly in binary floating point.
    scores = _scores([0.75, 0.5, 0.25])
    assert torch.allclose(
        adaptive_k_pool(scores, gap=0.25), torch.tensor([[0.625]]))
    assert torch.allclose(
        adaptive_k_pool(scores, gap=0.2), torch.tensor([[0.75]]))


def test_adaptive_k_ties_and_all_equal():
    # gap=0 keeps exactly the patches tied at the max.
    scores = _scores([0.7, 0.7, 0.3])
    scores.requires_grad_(True)
    out = adaptive_k_pool(scores, k_max=6, gap=0.0)
    assert torch.allclose(out, torch.tensor([[0.7]]))
    out.sum().backward()
    assert torch.allclose(scores.grad[0, :, 0], torch.tensor([0.5, 0.5, 0]))
    # All equal: mean of min(k_max, N) equal values, each with 1 / K grad.
    equal = torch.full((1, 10, 1), 0.3, requires_grad=True)
    out = adaptive_k_pool(equal, k_max=6, gap=0.1)
    assert torch.allclose(out, torch.tensor([[0.3]]))
    out.sum().backward()
    assert (equal.grad > 0).sum() == 6
    assert torch.allclose(equal.grad[equal.grad > 0], torch.tensor(1 / 6))


def test_adaptive_k_cap_and_clamp():
    # Eight patches within the gap, capped at k_max=3.
    scores = _scores([0.90, 0.89, 0.88, 0.87, 0.86, 0.85, 0.84, 0.83])
    assert torch.allclose(
        adaptive_k_pool(scores, k_max=3, gap=0.1),
        torch.tensor([[(0.90 + 0.89 + 0.88) / 3]]))
    # k_max larger than N is clamped to N.
    few = _scores([0.6, 0.55])
    assert torch.allclose(
        adaptive_k_pool(few, k_max=6, gap=0.1), torch.tensor([[0.575]]))


def test_adaptive_k_gradients_exactly_at_selected_patches():
    scores = _scores([0.5, 0.9, 0.82, 0.85, 0.1], [0.95, 0.2, 0.3, 0.1, 0.05])
    scores.requires_grad_(True)
    adaptive_k_pool(scores, k_max=6, gap=0.1).sum().backward()
    grad = scores.grad[0]
    expected = torch.tensor([[0, 1], [1, 0], [1, 0], [1, 0], [0, 0]],
                            dtype=torch.float32)
    expected[:, 0] /= 3
    assert torch.allclose(grad, expected)


def test_adaptive_k_gap_zero_equals_gmp():
    torch.manual_seed(0)
    scores = torch.rand(4, 30, 6)  # distinct almost surely
    assert torch.allclose(
        adaptive_k_pool(scores, k_max=6, gap=0.0), gmp_pool(scores))


def test_adaptive_k_batched_matches_per_image():
    torch.manual_seed(1)
    scores = torch.rand(3, 12, 4).softmax(dim=-1)
    out = adaptive_k_pool(scores, k_max=4, gap=0.05)
    for b in range(3):
        for c in range(4):
            col, _ = scores[b, :, c].sort(descending=True)
            kept = col[:4][col[:4] >= col[0] - 0.05]
            assert torch.allclose(out[b, c], kept.mean())


def test_pool_patch_scores_dispatch():
    scores = torch.rand(2, 9, 3)
    assert torch.equal(pool_patch_scores(scores, 'gmp'), gmp_pool(scores))
    assert torch.equal(pool_patch_scores(scores, 'gap'), gap_pool(scores))
    assert torch.equal(
        pool_patch_scores(scores, 'topk', k=3), topk_pool(scores, 3))
    assert torch.equal(
        pool_patch_scores(scores, 'adaptive_k', k_max=4, gap=0.2),
        adaptive_k_pool(scores, k_max=4, gap=0.2))
    with pytest.raises(ValueError, match='adaptive_k'):
        pool_patch_scores(scores, 'median')


def test_bad_shapes_and_args():
    with pytest.raises(ValueError):
        gmp_pool(torch.rand(4, 3))
    with pytest.raises(ValueError):
        adaptive_k_pool(torch.rand(1, 4, 3), gap=-0.1)
    with pytest.raises(ValueError):
        adaptive_k_pool(torch.rand(1, 4, 3), k_max=0)


def test_adaptive_k_ratio_mode_hand_computed():
    # class 0 max 0.9: ratio 0.9 keeps >= 0.81 -> 0.9, 0.85, 0.82 (K=3);
    # the gap reading (>= 0.8) keeps the same three. class 1 max 0.5: the
    # ratio rule keeps >= 0.45 -> 0.5, 0.46 (K=2), the gap rule keeps
    # >= 0.4 -> 0.5, 0.46, 0.41 (K=3): the readings differ on low maxima.
    scores = _scores([0.9, 0.5, 0.85, 0.82], [0.41, 0.5, 0.46, 0.1])
    ratio = adaptive_k_pool(scores, k_max=6, mode='ratio', ratio=0.9)
    gap = adaptive_k_pool(scores, k_max=6, mode='gap', gap=0.1)
    assert torch.allclose(ratio,
                          torch.tensor([[(0.9 + 0.85 + 0.82) / 3, 0.48]]))
    assert torch.allclose(gap,
                          torch.tensor([[(0.9 + 0.85 + 0.82) / 3,
                                         (0.5 + 0.46 + 0.41) / 3]]))
    # k_max caps the ratio rule too; ratio 0 keeps k_max patches.
    assert torch.allclose(
        adaptive_k_pool(scores, k_max=2, mode='ratio', ratio=0.0),
        torch.tensor([[0.875, 0.48]]))
    # Gradient reaches exactly the kept patches.
    s = scores.clone().requires_grad_(True)
    adaptive_k_pool(s, mode='ratio', ratio=0.9)[0, 1].backward()
    assert torch.allclose(s.grad[0, :, 1], torch.tensor([0., 0.5, 0.5, 0.]))
    with pytest.raises(ValueError, match='mode'):
        adaptive_k_pool(scores, mode='median')
    with pytest.raises(ValueError, match='ratio'):
        adaptive_k_pool(scores, mode='ratio', ratio=1.5)
    assert torch.equal(
        pool_patch_scores(scores, 'adaptive_k', mode='ratio', ratio=0.9),
        ratio)


def test_topk_ratio_pool_hand_computed():
    from wsss_mm.models.utils import topk_ratio_pool

    # N = 4: ratio 0.5 averages the 2 highest, 0.3 -> ceil(1.2) = 2,
    # 0.25 -> 1 (no float round-up), 1.0 is GAP.
    scores = _scores([0.1, 0.9, 0.4, 0.6], [0.5, 0.5, 0.2, 0.0])
    assert torch.allclose(topk_ratio_pool(scores, 0.5),
                          torch.tensor([[0.75, 0.5]]))
    assert torch.allclose(topk_ratio_pool(scores, 0.3),
                          torch.tensor([[0.75, 0.5]]))
    assert torch.allclose(topk_ratio_pool(scores, 0.25),
                          torch.tensor([[0.9, 0.5]]))
    assert torch.allclose(topk_ratio_pool(scores, 1.0), gap_pool(scores))
    with pytest.raises(ValueError):
        topk_ratio_pool(scores, 0.0)


def test_image_labels_from_views_average_then_threshold():
    # two views of two images, three classes, threshold 0.5
    view1 = torch.tensor([[0.9, 0.6, 0.1], [0.2, 0.45, 0.8]])
    view2 = torch.tensor([[0.9, 0.2, 0.7], [0.2, 0.75, 0.1]])
    # means: [0.9, 0.4, 0.4] and [0.2, 0.6, 0.45]
    expected = torch.tensor([[1, 0, 0], [0, 1, 0]])
    assert torch.equal(image_labels_from_views([view1, view2], 0.5),
                       expected)
    # the first view alone: [1, 1, 0] and [0, 0, 1]
    assert torch.equal(image_labels_from_views([view1], 0.5),
                       torch.tensor([[1, 1, 0], [0, 0, 1]]))
    # strictly above the threshold
    assert image_labels_from_views([torch.tensor([[0.5]])], 0.5).item() == 0
    with pytest.raises(ValueError, match='at least one view'):
        image_labels_from_views([], 0.5)
