"""ControlNetGenerator on the tiny random folders (real diffusers)."""
import numpy as np
import pytest
import torch
from PIL import Image

from wsss_mm.generation.diffusion import (ControlNetGenerator,
                                          check_model_folder)
from wsss_mm.registry import GENERATORS


@pytest.fixture(scope='module')
def generator(tiny_diffusion):
    return GENERATORS.build(
        dict(
            type='ControlNetGenerator',
            sd_model=tiny_diffusion['sd_model'],
            controlnet_model=tiny_diffusion['controlnet_model'],
            num_inference_steps=4,
            guidance_scale=3.0,
            resolution=64,
            dtype='auto',
            device='auto'))


def _source():
    img = np.zeros((48, 40, 3), np.uint8)
    img[10:30, 8:28] = (200, 40, 40)
    return Image.fromarray(img)


def test_generates_deterministic_images(generator):
    assert generator.device.type == 'cpu'
    assert generator.dtype == torch.float32  # 'auto' on CPU
    before = generator.unet_calls
    a = generator(_source(), 'a photo of a dog', seed=3)
    assert a.image.size == (64, 64) and a.image.mode == 'RGB'
    assert a.condition == 'canny' and a.steps == 4 and not a.stopped_early
    assert generator.unet_calls - before == 4  # one (CFG-batched) call/step
    b = generator(_source(), 'a photo of a dog', seed=3)
    np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))
    c = generator(_source(), 'a photo of a dog', seed=4)
    assert np.abs(np.asarray(a.image, float) -
                  np.asarray(c.image, float)).max() > 0
    # the scheduler's step is the class method again after the call
    assert 'step' not in vars(generator.pipe.scheduler)
    assert generator.model_ids == dict(
        sd_model='sd', controlnet_model='controlnet_canny')


def test_condition_is_canny_of_the_resized_source(generator):
    control, kind, notes = generator.condition(_source())
    edges = np.asarray(control)
    assert kind == 'canny' and notes == []
    assert edges.shape == (64, 64, 3)
    on = edges[..., 0] > 0
    # the red box spans rows 13..40 and columns 13..45 after resizing
    assert on.any() and not on[:10].any() and not on[48:].any()
    _, kind, notes = generator.condition(_source(), has_person=True)
    assert kind == 'canny' and notes == [
        'pose->canny: no pose model configured'
    ]


def test_early_check_stops_before_the_remaining_steps(generator):
    seen = []

    def reject(images01):
        seen.append(images01)
        return False, 0.125

    before = generator.unet_calls
    out = generator(
        _source(), 'a dog', seed=0, check_at=1, check_fn=reject)
    assert out.stopped_early and out.image is None
    assert out.steps == 2 and out.early_score == 0.125
    assert generator.unet_calls - before == 2  # steps 3 and 4 never ran
    assert len(seen) == 1 and seen[0].shape == (1, 3, 64, 64)
    assert 0 <= float(seen[0].min()) and float(seen[0].max()) <= 1
    # a passing check changes nothing: same image as without the check
    kept = generator(_source(), 'a dog', seed=0, check_at=1,
                     check_fn=lambda x: (True, 0.9))
    plain = generator(_source(), 'a dog', seed=0)
    assert kept.steps == 4 and kept.early_score == 0.9
    np.testing.assert_array_equal(
        np.asarray(kept.image), np.asarray(plain.image))


def test_early_check_x0_is_the_schedulers_prediction(generator):
    """The decoded x0 equals the VAE decode of DDIM's own
    pred_original_sample at that step."""
    sched = generator.pipe.scheduler
    recorded = []
    original = type(sched).step

    def spy(self, *args, **kwargs):
        kwargs['return_dict'] = True
        out = original(self, *args, **kwargs)
        recorded.append(out.pred_original_sample.clone())
        return out

    type(sched).step = spy
    try:
        got = []
        generator(_source(), 'a dog', seed=1, check_at=2,
                  check_fn=lambda x: (got.append(x), (True, 1.0))[1])
    finally:
        type(sched).step = original
    torch.testing.assert_close(got[0], generator.decode(recorded[2]))


def test_missing_folders_say_how_to_get_them(tmp_path, tiny_diffusion):
    missing = str(tmp_path / 'nope')
    with pytest.raises(FileNotFoundError) as e:
        ControlNetGenerator(sd_model=missing,
                            controlnet_model=tiny_diffusion[
                                'controlnet_model'])
    msg = str(e.value)
    assert 'generator.sd_model' in msg and missing in msg
    assert 'huggingface-cli download' in msg
    assert 'make_tiny_diffusion.py' in msg
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='has no config.json'):
        check_model_folder(str(tmp_path / 'empty'), 'controlnet_model')
    with pytest.raises(FileNotFoundError, match='is not set'):
        check_model_folder(None, 'pose_controlnet_model')


@GENERATORS.register_module(force=True)
class BrightBlobPose:
    """A real (if naive) pose estimator for the test: a stick figure over
    the bright pixels, or None when there are none (nobody found)."""

    def __call__(self, rgb):
        ys, xs = np.nonzero(rgb.max(axis=2) > 100)
        if not len(ys):
            return None
        import cv2
        pose = np.zeros_like(rgb)
        top, bottom = (int(xs.mean()), ys.min()), (int(xs.mean()), ys.max())
        cv2.line(pose, top, bottom, (255, 0, 0), 2)
        return pose


def test_pose_controlnet_for_people(tiny_diffusion):
    gen = ControlNetGenerator(
        sd_model=tiny_diffusion['sd_model'],
        controlnet_model=tiny_diffusion['controlnet_model'],
        pose_controlnet_model=tiny_diffusion['pose_controlnet_model'],
        pose_estimator=dict(type='BrightBlobPose'),
        num_inference_steps=2,
        resolution=64)
    out = gen(_source(), 'a person', seed=0, has_person=True)
    assert out.condition == 'pose' and out.image.size == (64, 64)
    assert gen.model_ids['pose_controlnet_model'] == 'controlnet_openpose'
    # the pose ControlNet, not the Canny one, produced it
    canny = gen(_source(), 'a person', seed=0, has_person=False)
    assert canny.condition == 'canny'
    assert np.abs(np.asarray(out.image, float) -
                  np.asarray(canny.image, float)).max() > 0
    # nobody detected: Canny, with the reason
    dark = Image.new('RGB', (40, 40), (20, 20, 20))
    _, kind, notes = gen.condition(dark, has_person=True)
    assert kind == 'canny' and notes == ['pose->canny: no person detected']
