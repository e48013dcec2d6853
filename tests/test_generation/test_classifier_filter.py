"""ClassifierFilter: weights-only loading, scores, accept rule."""
import collections

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from iaa_test_utils import DEMO_MODEL_CONFIG, write_filter_checkpoint
from PIL import Image

from wsss_mm.generation.filters import (image_class_scores,
                                        load_state_dict_safely)
from wsss_mm.registry import GENERATORS


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return write_filter_checkpoint(
        str(tmp_path_factory.mktemp('filter') / 'apc.pth'))


@pytest.fixture(scope='module')
def image_filter(ckpt):
    return GENERATORS.build(
        dict(
            type='ClassifierFilter',
            config=DEMO_MODEL_CONFIG,
            checkpoint=ckpt,
            threshold=0.3,
            max_tries=2,
            early_check=dict(at=0.5, threshold=0.1)))


class Payload:
    """Stands for any pickled object that is not a tensor."""


def test_checkpoints_load_weights_only(tmp_path, ckpt):
    state = load_state_dict_safely(ckpt)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    from safetensors.torch import save_file
    st = str(tmp_path / 'w.safetensors')
    save_file({k: v.contiguous() for k, v in state.items()}, st)
    assert load_state_dict_safely(st).keys() == state.keys()
    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': state, 'obj': Payload()}, evil)
    with pytest.raises(RuntimeError, match='weights_only=True'):
        load_state_dict_safely(evil)
    with pytest.raises(FileNotFoundError, match='filter.checkpoint'):
        load_state_dict_safely(str(tmp_path / 'none.pth'))


def test_scores_match_the_model_on_a_hand_made_batch(image_filter):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (48, 56, 3), dtype=np.uint8)
    got = image_filter.score_image(Image.fromarray(arr))
    assert image_filter.input_size == (128, 128)  # the demo test Resize
    # by hand: resize, normalise with the demo preprocessor (RGB, 127.5)
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float()
    x = F.interpolate(x / 255, size=(128, 128), mode='bilinear',
                      align_corners=False) * 255
    x = (x - 127.5) / 127.5
    with torch.no_grad():
        ref = image_class_scores(image_filter.model, x)[0].numpy()
    assert got.shape == (4, )
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    ok, s = image_filter.accepts(got, [1, 2])
    assert s == pytest.approx(min(got[1], got[2]))
    assert ok == (s >= 0.3)


def test_early_stopper(image_filter):
    at, fn = image_filter.early_stopper([1], num_steps=6)
    assert at == 2
    keep, s = fn(torch.rand(1, 3, 64, 64, generator=torch.Generator(
    ).manual_seed(0)))
    assert keep == (s >= 0.1)
    assert image_filter.early_stopper([1], num_steps=1) == (None, None)


def test_bad_filter_settings(ckpt, tmp_path):
    base = dict(type='ClassifierFilter', config=DEMO_MODEL_CONFIG,
                checkpoint=ckpt)
    with pytest.raises(FileNotFoundError, match='filter.config'):
        GENERATORS.build(dict(base, config=str(tmp_path / 'x.py')))
    with pytest.raises(ValueError, match='threshold'):
        GENERATORS.build(dict(base, threshold=1.5))
    # weights of another model do not pass silently
    other = str(tmp_path / 'other.pth')
    torch.save({'state_dict': collections.OrderedDict(
        w=torch.zeros(1))}, other)
    with pytest.raises(RuntimeError, match='missing weights'):
        GENERATORS.build(dict(base, checkpoint=other))
