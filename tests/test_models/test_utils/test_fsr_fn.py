import math

import numpy as np
import pytest
import torch

from wsss_mm.models.utils.fsr import (cosine_momentum, ema_center,
                                      fsr_class_loss, fsr_patch_loss,
                                      fsr_teacher_probs, is_random_mask_phase,
                                      teacher_temperature,
                                      uncertain_block_mask)


def _grid(mask, hw):
    return mask.reshape(-1, *hw)


def test_uncertain_blocks_masked_first():
    # 8x8 patches of 16 px, 64 px blocks: a 2x2 block grid, ceil(4*0.4)=2
    # blocks masked. Blocks (0,1) and (1,0) are uncertain for the labelled
    # class 0; class 1 is uncertain everywhere but not in the image.
    cam = torch.zeros(1, 2, 2, 2)
    cam[0, 0] = torch.tensor([[0.9, 0.5], [0.5, 0.1]])
    cam[0, 1] = 0.5
    label = torch.tensor([[1., 0.]])
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        mask = uncertain_block_mask(
            cam, label, (8, 8), patch_size=16, block_size=64,
            mask_ratio=0.4, generator=g)
        expected = torch.zeros(8, 8, dtype=torch.bool)
        expected[:4, 4:] = True
        expected[4:, :4] = True
        assert mask.shape == (1, 64) and mask.dtype == torch.bool
        assert torch.equal(_grid(mask, (8, 8))[0], expected)


def test_uncertain_thresholds_are_strict():
    # 0.2 and 0.7 themselves are certain; with 1 block masked out of 2
    # (ratio 0.5) the single uncertain block (0.69) is chosen every time.
    cam = torch.tensor([[[[0.2, 0.7, 0.69, 0.7]]]])  # 1x4 CAM
    label = torch.ones(1, 1)
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        mask = uncertain_block_mask(
            cam, label, (1, 4), patch_size=1, block_size=1,
            mask_ratio=0.25, generator=g)
        assert mask.tolist() == [[False, False, True, False]]


def test_more_uncertain_than_budget_picks_among_them():
    cam = torch.full((2, 1, 3, 3), 0.5)
    cam[:, :, 0, 0] = 0.95  # one certain block
    label = torch.ones(2, 1)
    g = torch.Generator().manual_seed(0)
    mask = uncertain_block_mask(
        cam, label, (3, 3), patch_size=1, block_size=1, mask_ratio=0.4,
        generator=g)
    assert mask.sum(1).tolist() == [4, 4]  # ceil(9 * 0.4)
    assert not mask[:, 0].any()


def test_random_phase_is_top_noise_and_seedable():
    g = torch.Generator().manual_seed(7)
    noise = torch.rand(3, 4, generator=g)
    expected = torch.zeros(3, 4, dtype=torch.bool)
    expected.scatter_(1, noise.topk(2, dim=1).indices, True)
    # a CAM that would make block 0 the only uncertain one is ignored
    cam = torch.zeros(3, 1, 2, 2)
    cam[:, :, 0, 0] = 0.5
    label = torch.ones(3, 1)
    mask = uncertain_block_mask(
        cam, label, (4, 4), patch_size=16, block_size=32, mask_ratio=0.4,
        random_phase=True, generator=torch.Generator().manual_seed(7))
    blocks = _grid(mask, (4, 4))[:, ::2, ::2].reshape(3, 4)
    assert torch.equal(blocks, expected)
    again = uncertain_block_mask(
        None, None, (4, 4), patch_size=16, block_size=32, mask_ratio=0.4,
        random_phase=True, batch_size=3,
        generator=torch.Generator().manual_seed(7))
    assert torch.equal(again, mask)


def test_mask_ratio_at_public_size():
    # 448 px crop, patch 16: 28x28 patches, 7x7 blocks of 4x4 patches;
    # ceil(49 * 0.4) = 20 blocks = 320 patches.
    mask = uncertain_block_mask(
        None, None, (28, 28), random_phase=True, batch_size=4,
        generator=torch.Generator().manual_seed(0))
    assert mask.sum(1).tolist() == [320] * 4
    # every 4x4 block is all masked or all kept
    blocks = _grid(mask, (28, 28)).reshape(4, 7, 4, 7, 4).float()
    per_block = blocks.mean(dim=(2, 4))
    assert torch.all((per_block == 0) | (per_block == 1))


def test_blocks_cut_by_grid_border():
    # 6x6 patches, blocks of 4 patches: a 2x2 block grid cut at the border
    g = torch.Generator().manual_seed(1)
    mask = uncertain_block_mask(
        None, None, (6, 6), patch_size=8, block_size=32, mask_ratio=0.25,
        random_phase=True, batch_size=1, generator=g)
    sizes = {(0, 0): 16, (0, 1): 8, (1, 0): 8, (1, 1): 4}
    noise = torch.rand(1, 4, generator=torch.Generator().manual_seed(1))
    top = int(noise.argmax())
    assert int(mask.sum()) == sizes[divmod(top, 2)]


def test_mask_phase_switch():
    assert is_random_mask_phase(0, 20000)
    assert is_random_mask_phase(3999, 20000)
    assert not is_random_mask_phase(4000, 20000)
    assert not is_random_mask_phase(19999, 20000)
    with pytest.raises(ValueError, match='aux_cam'):
        uncertain_block_mask(None, None, (4, 4), batch_size=1)


def test_class_loss_hand_computed():
    teacher = torch.zeros(1, 2)  # uniform after softmax
    student = torch.tensor([[0.1 * math.log(3.0), 0.0]])  # /0.1 -> [ln3, 0]
    loss = fsr_class_loss(student, teacher, torch.zeros(2), 0.04)
    assert loss.item() == pytest.approx(0.5 * math.log(16 / 3), rel=1e-6)
    # the centre is subtracted before the temperature
    teacher = torch.tensor([[1.0 + 0.07 * math.log(3.0), 1.0]])
    probs = fsr_teacher_probs(teacher, torch.tensor([[1.0, 1.0]]), 0.07)
    assert probs.tolist()[0] == pytest.approx([0.75, 0.25], rel=1e-5)
    loss = fsr_class_loss(
        student, teacher, torch.tensor([[1.0, 1.0]]), 0.07)
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_class_loss_gradient_only_to_student():
    s = torch.randn(2, 5, requires_grad=True)
    t = torch.randn(2, 5, requires_grad=True)
    fsr_class_loss(s, t, torch.zeros(5), 0.05).backward()
    assert s.grad is not None and t.grad is None


def test_patch_loss_over_masked_positions():
    teacher = torch.zeros(2, 3, 2)  # uniform targets
    student = torch.zeros(2, 3, 2)
    student[0, 0] = torch.tensor([0.1 * math.log(3.0), 0.0])  # 0.5 ln(16/3)
    student[0, 2] = torch.tensor([5.0, -5.0])  # not masked: ignored
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool)
    loss = fsr_patch_loss(student, teacher, mask, torch.zeros(2), 0.04)
    # image 0: (0.5 ln(16/3) + ln 2) / 2; image 1: no masked patch -> 0
    img0 = (0.5 * math.log(16 / 3) + math.log(2.0)) / 2
    assert loss.item() == pytest.approx(img0 / 2, rel=1e-6)


def test_ema_center():
    c = ema_center(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.9)
    assert c.tolist() == pytest.approx([0.9, 0.1])


def test_teacher_temperature_schedule():
    ref = np.linspace(0.04, 0.07, 2500)
    assert teacher_temperature(0, 20000) == pytest.approx(0.04)
    for it in (1, 1249, 2498, 2499):
        assert teacher_temperature(it, 20000) == pytest.approx(ref[it])
    assert teacher_temperature(2499, 20000) == pytest.approx(0.07)
    assert teacher_temperature(19999, 20000) == pytest.approx(0.07)


def test_cosine_momentum_schedule():
    assert cosine_momentum(0, 20000) == pytest.approx(0.9995)
    assert cosine_momentum(10000, 20000) == pytest.approx(0.99975)
    assert cosine_momentum(20000, 20000) == 1.0
    ref = 1.0 + 0.5 * (0.9995 - 1.0) * (1 + np.cos(np.pi * 19999 / 20000))
    assert cosine_momentum(19999, 20000) == pytest.approx(ref, abs=1e-12)
    vals = [cosine_momentum(i, 100) for i in range(101)]
    assert all(a <= b for a, b in zip(vals, vals[1:]))
