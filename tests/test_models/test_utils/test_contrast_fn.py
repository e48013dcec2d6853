import math

import pytest
import torch

from wsss_mm.models.utils import patch_contrast_loss


def _sim(a, b):
    return (1 + torch.nn.functional.cosine_similarity(a, b, dim=0)) / 2


def test_hand_computed_example():
    # 4 patches in 2-D: e0, e1 close together, e2 orthogonal, e3 opposite.
    emb = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]]])
    # class 0: patches 0 and 1 high; with low_ratio 0.25 one low patch,
    # the lowest score (patch 3). class 1 is absent and ignored.
    scores = torch.tensor([[[0.9, 0.1], [0.95, 0.05], [0.5, 0.5], [0.2, 0.8]]])
    labels = torch.tensor([[1, 0]])
    loss = patch_contrast_loss(
        emb, scores, labels, high_thr=0.85, low_ratio=0.25)
    s01 = (1 + 1 / math.sqrt(2)) / 2
    s03 = 0.0  # opposite vectors
    s13 = (1 - 1 / math.sqrt(2)) / 2
    expected = (1 - s01) + (s03 + s13) / 2
    assert torch.allclose(loss, torch.tensor(expected))


def test_matches_naive_reference():
    torch.manual_seed(0)
    B, N, D, C = 2, 10, 5, 3
    emb = torch.randn(B, N, D)
    # Skewed scores so that high-confidence patches exist.
    scores = (torch.randn(B, N, C) * 4).softmax(dim=-1)
    labels = torch.tensor([[1, 1, 0], [0, 1, 1]])
    high_thr, low_ratio = 0.6, 0.2
    loss = patch_contrast_loss(emb, scores, labels, high_thr, low_ratio)

    terms = []
    num_low = math.ceil(low_ratio * N)
    for b in range(B):
        for c in range(C):
            if not labels[b, c]:
                continue
            high = [i for i in range(N) if scores[b, i, c] > high_thr]
            order = scores[b, :, c].argsort().tolist()
            low = [i for i in order[:num_low] if i not in high]
            hh = [
                1 - _sim(emb[b, i], emb[b, j]) for i in high for j in high
                if i != j
            ]
            hl = [_sim(emb[b, i], emb[b, j]) for i in high for j in low]
            if not hh and not hl:
                continue
            term = 0
            if hh:
                term = term + sum(hh) / len(hh)
            if hl:
                term = term + sum(hl) / len(hl)
            terms.append(term)
    assert len(terms) > 0
    assert torch.allclose(loss, sum(terms) / len(terms), atol=1e-6)


def test_single_high_patch_only_pushes():
    # One high patch: no high/high pair, so only the push term counts.
    emb = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    scores = torch.tensor([[[0.9], [0.1], [0.5]]])
    loss = patch_contrast_loss(
        emb, scores, torch.ones(1, 1),
        low_ratio=0.2)  # ceil(0.6) = 1 -> patch 1
    assert torch.allclose(loss, torch.tensor(0.5))


def test_zero_without_pairs_and_backward():
    emb = torch.randn(2, 6, 4, requires_grad=True)
    scores = torch.full((2, 6, 3), 1 / 3)  # nothing above 0.85
    loss = patch_contrast_loss(emb, scores, torch.ones(2, 3))
    assert loss.item() == 0.0
    assert loss.grad_fn is not None
    loss.backward()
    assert torch.isfinite(emb.grad).all()
    assert (emb.grad == 0).all()
    # No present class at all: also exactly zero.
    scores = torch.zeros(2, 6, 3)
    scores[..., 0] = 1
    loss = patch_contrast_loss(emb, scores, torch.zeros(2, 3))
    assert loss.item() == 0.0


def test_backward_pulls_high_patches_together():
    emb = torch.tensor([[[1.0, 0.2], [0.2, 1.0], [-1.0, 0.1]]],
                       requires_grad=True)
    scores = torch.tensor([[[0.9], [0.9], [0.05]]])
    loss = patch_contrast_loss(emb, scores, torch.ones(1, 1), low_ratio=0.3)
    loss.backward()
    with torch.no_grad():
        stepped = emb - 0.1 * emb.grad
        after = patch_contrast_loss(
            stepped, scores, torch.ones(1, 1), low_ratio=0.3)
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
    assert after < loss


def test_all_patches_high_gives_no_low_set():
    # Every patch is high: L_c would only hold high patches, so it is
    # empty and only the pull term remains.
    emb = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    scores = torch.tensor([[[0.9], [0.95]]])
    loss = patch_contrast_loss(emb, scores, torch.ones(1, 1), low_ratio=0.5)
    assert torch.allclose(loss, torch.tensor(0.5))  # 1 - (1 + 0) / 2


def test_bad_inputs():
    with pytest.raises(ValueError):
        patch_contrast_loss(
            torch.rand(1, 4, 2), torch.rand(1, 5, 3), torch.ones(1, 3))
    with pytest.raises(ValueError):
        patch_contrast_loss(
            torch.rand(1, 4, 2),
            torch.rand(1, 4, 3),
            torch.ones(1, 3),
            low_ratio=1.5)


def test_paper_reading_takes_the_single_lowest_patch():
    """low_ratio=None (paper): L_c is the one lowest-scoring patch."""
    # 5 patches, one class. High (> 0.85): patches 0, 1. Lowest score:
    # patch 4 (0.05); patch 3 (0.1) would join under a ratio of 0.4.
    emb = torch.tensor([[[1., 0.], [1., 0.], [0., 1.], [-1., 0.],
                         [0., 1.]]])
    scores = torch.tensor([[[0.9], [0.95], [0.5], [0.1], [0.05]]])
    labels = torch.ones(1, 1)
    # pull: s(0,1) = 1 -> 0; push: mean over (0,4), (1,4) of s = 0.5.
    paper = patch_contrast_loss(emb, scores, labels, high_thr=0.85)
    assert torch.allclose(paper, torch.tensor(0.5))
    # low_ratio 0.4 -> patches 3 and 4: s = 0 (opposite) and 0.5 -> 0.25.
    ratio = patch_contrast_loss(
        emb, scores, labels, high_thr=0.85, low_ratio=0.4)
    assert torch.allclose(ratio, torch.tensor(0.25))
    # The registered loss defaults to the paper's reading.
    from wsss_mm.models.losses import PatchContrastLoss
    assert torch.allclose(PatchContrastLoss()(emb, scores, labels), paper)
