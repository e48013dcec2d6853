"""Known answers of the generator/filter pure functions."""
import numpy as np
import pytest
import torch

from wsss_mm.generation.utils.diffusion_math import (canny_condition,
                                                     check_step,
                                                     diffusion_size,
                                                     label_score, predict_x0)


def test_canny_condition_square_outline():
    img = np.zeros((32, 32, 3), np.uint8)
    img[8:24, 8:24] = 255
    edges = canny_condition(img, 100, 200)
    assert edges.shape == (32, 32, 3) and edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    assert (edges[..., 0] == edges[..., 2]).all()
    on = edges[..., 0] > 0
    # edges lie on the square's border (within one pixel), nowhere else
    assert on[8:24, 7:9].any() and on[8:24, 23:25].any()
    assert not on[:6].any() and not on[12:20, 12:20].any()
    assert not canny_condition(np.full((16, 16, 3), 90, np.uint8)).any()
    with pytest.raises(ValueError, match='uint8 RGB'):
        canny_condition(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match='low <= high'):
        canny_condition(img, 200, 100)


def test_diffusion_size():
    assert diffusion_size(64) == (64, 64)
    assert diffusion_size((512, 768)) == (512, 768)
    with pytest.raises(ValueError, match='multiples of 8'):
        diffusion_size(100)


@pytest.mark.parametrize('kind', ['epsilon', 'v_prediction', 'sample'])
def test_predict_x0_inverts_the_forward_process(kind):
    g = torch.Generator().manual_seed(0)
    alphas = torch.linspace(0.99, 0.01, 1000)
    x0 = torch.randn(2, 4, 8, 8, generator=g)
    eps = torch.randn(2, 4, 8, 8, generator=g)
    t = 600
    a = alphas[t]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    out = dict(
        epsilon=eps,
        v_prediction=a.sqrt() * eps - (1 - a).sqrt() * x0,
        sample=x0)[kind]
    torch.testing.assert_close(
        predict_x0(out, torch.tensor(t), xt, alphas, kind), x0,
        atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='prediction_type'):
        predict_x0(out, t, xt, alphas, 'flow')


def test_predict_x0_matches_ddim_scheduler():
    from diffusers import DDIMScheduler
    sched = DDIMScheduler(beta_schedule='scaled_linear', clip_sample=False)
    sched.set_timesteps(10)
    g = torch.Generator().manual_seed(1)
    sample, eps = torch.randn(1, 4, 8, 8, generator=g), torch.randn(
        1, 4, 8, 8, generator=g)
    t = sched.timesteps[3]
    ref = sched.step(eps, t, sample).pred_original_sample
    torch.testing.assert_close(
        predict_x0(eps, t, sample, sched.alphas_cumprod), ref)


def test_label_score_is_the_weakest_label():
    scores = [0.9, 0.2, 0.7, 0.4]
    assert label_score(scores, [2]) == pytest.approx(0.7)
    assert label_score(scores, [0, 2, 3]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match='at least one'):
        label_score(scores, [])
    with pytest.raises(ValueError, match='out of range'):
        label_score(scores, [4])


def test_check_step():
    assert check_step(10, 0.5) == 4  # after the 5th of 10 steps
    assert check_step(2, 0.5) == 0
    assert check_step(6, 0.99) == 4  # never the last step
    assert check_step(6, 0.01) == 0
    with pytest.raises(ValueError):
        check_step(10, 1.0)
    with pytest.raises(ValueError):
        check_step(1, 0.5)
