"""ToCo's PTC and CTC functions against hand-computed tensors."""
import math

import torch

from wsss_mm.models.utils import (class_token_contrast_loss,
                                  crop_from_uncertain, labels_to_affinity,
                                  token_contrast_loss)


def test_labels_to_affinity():
    aff = labels_to_affinity(torch.tensor([[1, 1, 2, 255]]))
    i = 255
    assert aff[0].tolist() == [[i, 1, 0, i], [1, i, 0, i], [0, 0, i, i],
                               [i, i, i, i]]


def test_token_contrast_loss_hand_computed():
    s = 1 / math.sqrt(2)
    # tokens 0 and 1 identical (positives), token 2 at 45 degrees
    tokens = torch.tensor([[[1., 0.], [2., 0.], [1., 1.]]])
    labels = torch.tensor([[1, 1, 2]])
    # pos: 2 pairs with cos 1 -> 0.5 * (1 - 2 / 3)
    # neg: 4 pairs with cos 1/sqrt(2) -> 0.5 * 4s / 5
    expected = 0.5 * (1 - 2 / 3) + 0.5 * 4 * s / 5
    assert math.isclose(float(token_contrast_loss(tokens, labels)),
                        expected, rel_tol=1e-6)
    # |cos|: an opposite token counts like an identical one
    tokens2 = torch.tensor([[[1., 0.], [2., 0.], [-1., 0.]]])
    expected2 = 0.5 * (1 - 2 / 3) + 0.5 * 4 / 5
    assert math.isclose(float(token_contrast_loss(tokens2, labels)),
                        expected2, rel_tol=1e-6)
    # an ignored token takes no part
    ign = torch.tensor([[1, 1, 255]])
    assert math.isclose(float(token_contrast_loss(tokens, ign)), 1 / 6,
                        rel_tol=1e-6)
    # counts are pooled over the batch: two copies give the same value
    both = token_contrast_loss(tokens.repeat(2, 1, 1), labels.repeat(2, 1))
    expected_b = 0.5 * (1 - 4 / 5) + 0.5 * 8 * s / 9
    assert math.isclose(float(both), expected_b, rel_tol=1e-6)


def _naive_ctc(student, teacher, flags, temp):
    """ToCo's formula written plainly with exp (small logits only)."""
    b, v = flags.shape
    s = student.reshape(v, b, -1).permute(1, 0, 2)
    t = teacher.reshape(2, b, -1).permute(1, 0, 2)
    logits = torch.exp(t @ s.transpose(1, 2) / temp)
    total = 0.
    for i in range(b):
        neg = logits[i][:, flags[i] == 0].sum(dim=1)
        pos_idx = torch.nonzero(flags[i])[:, 0]
        loss = 0.
        for j in pos_idx:
            p = logits[i, :, j]
            loss = loss - torch.log(p / (p + neg + 1e-4))
        loss = loss - torch.log(1 / (1 + neg + 1e-4))
        total = total + loss.sum() / 2 / (len(pos_idx) + 1e-4)
    return total / b


def test_class_token_contrast_hand_computed():
    # B = 1, views: 2 global (positive) + 1 local (negative), D = 1
    student = torch.tensor([[1.], [0.], [1.]])
    teacher = torch.tensor([[1.], [0.]])
    flags = torch.tensor([[1., 1., 0.]])
    e = math.e
    t0 = (math.log(e + e + 1e-4) - 1) + math.log(1 + e + 1e-4) + \
        math.log(1 + e + 1e-4)
    t1 = 3 * math.log(2 + 1e-4)
    expected = (t0 + t1) / 2 / (2 + 1e-4)
    got = class_token_contrast_loss(student, teacher, flags, temperature=1.)
    assert math.isclose(float(got), expected, rel_tol=1e-6)


def test_class_token_contrast_matches_plain_formula_and_is_stable():
    g = torch.Generator().manual_seed(0)
    b, v, d = 3, 6, 5
    student = torch.randn(v * b, d, generator=g)
    teacher = torch.randn(2 * b, d, generator=g)
    flags = torch.ones(b, v)
    flags[0, 3:] = 0
    flags[2, 2] = 0
    got = class_token_contrast_loss(student, teacher, flags, 0.5)
    assert torch.allclose(got, _naive_ctc(student, teacher, flags, 0.5),
                          rtol=1e-5)
    # logits of 1e3 overflow exp(); the log-space form stays finite
    big = class_token_contrast_loss(student * 100, teacher * 100, flags, .5)
    assert torch.isfinite(big)


def test_crop_from_uncertain_positions_and_flags():
    images = torch.arange(36.).view(1, 1, 6, 6)
    roi = torch.full((1, 6, 6), 2)
    roi[0, 1, 1] = 1  # the only non-foreground position inside the margin
    crops, flags = crop_from_uncertain(images, roi, crop_num=1, crop_size=2)
    # inner index (0, 0) -> corner (0, 0)
    assert torch.equal(crops[0][0, 0], images[0, 0, 0:2, 0:2])
    assert flags.tolist() == [[1., 1., 1.]]  # (2 + 2 + 2 + 1) / 4 > 0.2
    # certain background everywhere: every crop is a negative
    roi0 = torch.zeros(1, 6, 6, dtype=torch.long)
    g = torch.Generator().manual_seed(1)
    crops, flags = crop_from_uncertain(images, roi0, crop_num=3,
                                       crop_size=2, generator=g)
    assert flags.tolist() == [[1., 1., 0., 0., 0.]]
    corners = set()
    for c in crops:
        y, x = divmod(int(c[0, 0, 0, 0]), 6)
        assert torch.equal(c[0, 0], images[0, 0, y:y + 2, x:x + 2])
        assert 0 <= y < 4 and 0 <= x < 4
        corners.add((y, x))
    assert len(corners) == 3  # drawn without replacement
    # fewer candidates than crops: any position is used
    crops, flags = crop_from_uncertain(images, roi, crop_num=4, crop_size=2,
                                       generator=g)
    assert len(crops) == 4 and flags.shape == (1, 6)
