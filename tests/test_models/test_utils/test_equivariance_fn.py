import torch

from wsss_mm.models.utils import equivariance_loss


def hflip(x):
    return torch.flip(x, dims=(-1, ))


def _reference(p1, p2, labels, transform, eps=1e-6):
    """Per-pixel loop version of the documented target construction."""
    target = transform(p1) * labels[:, :, None, None]
    B, C, h, w = target.shape
    total = 0.0
    for b in range(B):
        for c in range(C):
            m = target[b, c].max()
            target[b, c] = target[b, c] / max(m.item(), eps)
        present = labels[b].float()
        for y in range(h):
            for x in range(w):
                t = target[b, :, y, x]
                t = t / t.sum() if t.sum() > 0 else present / present.sum()
                total += -(t * torch.log(p2[b, :, y, x] + eps)).sum()
    return total / (B * h * w)


def test_matches_reference():
    torch.manual_seed(0)
    p1 = torch.randn(2, 4, 3, 5).softmax(dim=1)
    p2 = torch.randn(2, 4, 3, 5).softmax(dim=1)
    labels = torch.tensor([[1, 0, 1, 1], [1, 1, 0, 0]])
    loss = equivariance_loss(p1, p2, labels, hflip)
    assert torch.allclose(loss, _reference(p1, p2, labels, hflip), atol=1e-5)
    rot = lambda x: torch.rot90(x, 1, dims=(-2, -1))  # noqa: E731
    p2r = torch.randn(2, 4, 5, 3).softmax(dim=1)
    assert torch.allclose(
        equivariance_loss(p1, p2r, labels, rot),
        _reference(p1, p2r, labels, rot),
        atol=1e-5)


def test_consistent_views_reach_minimum():
    # One-hot maps where every present class occurs: the normalised target
    # is the warped map itself, so the flipped prediction gives ~0 loss.
    torch.manual_seed(1)
    classes = torch.randint(0, 3, (1, 4, 4))
    classes[0, 0, :3] = torch.arange(3)
    p1 = torch.nn.functional.one_hot(classes, 3).permute(0, 3, 1, 2).float()
    labels = torch.ones(1, 3)
    consistent = equivariance_loss(p1, hflip(p1), labels, hflip)
    shuffled = hflip(p1)[:, [1, 2, 0]]  # every pixel gets a wrong class
    inconsistent = equivariance_loss(p1, shuffled, labels, hflip)
    assert consistent.item() < 1e-5
    assert inconsistent.item() > 1.0


def test_soft_maps_minimum_is_target_entropy():
    # Predicting exactly the (warped) target makes the cross-entropy equal
    # the target's entropy, its minimum over predictions.
    torch.manual_seed(2)
    p1 = torch.randn(1, 3, 2, 2).softmax(1)
    target = p1 / p1.amax(dim=(2, 3), keepdim=True)
    target = target / target.sum(1, keepdim=True)
    labels = torch.ones(1, 3)
    best = equivariance_loss(p1, hflip(target), labels, hflip)
    entropy = -(target * torch.log(target + 1e-6)).sum(1).mean()
    assert torch.allclose(best, entropy, atol=1e-5)
    worse = equivariance_loss(p1, hflip(target).flip(1), labels, hflip)
    assert worse > best + 1e-3


def test_absent_classes_and_empty_pixels():
    # Class 1 absent: its high scores do not enter the target.
    p1 = torch.zeros(1, 3, 1, 2)
    p1[0, 1] = 1.0  # view 1 only sees the absent class
    p1[0, 0, 0, 0] = 0.2  # class 0 at pixel 0 only
    labels = torch.tensor([[1, 0, 1]])
    p2 = torch.full((1, 3, 1, 2), 1 / 3)
    loss = equivariance_loss(p1, p2, labels, lambda x: x)
    # pixel 0: target one-hot class 0; pixel 1: all-zero -> uniform over
    # classes 0 and 2. Both give -log(1/3) with a uniform prediction.
    assert torch.allclose(loss, -torch.log(torch.tensor(1 / 3 + 1e-6)))
    # An image with no label contributes zero.
    assert equivariance_loss(p1, p2, torch.zeros(1, 3),
                             lambda x: x).item() == 0.0


def test_gradient_only_reaches_view2():
    p1 = torch.randn(1, 3, 4, 4).softmax(1).requires_grad_(True)
    logits2 = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = equivariance_loss(p1, logits2.softmax(1), torch.ones(1, 3), hflip)
    loss.backward()
    assert p1.grad is None
    assert logits2.grad is not None and logits2.grad.abs().sum() > 0
