"""Stable Diffusion + ControlNet image generator (IAA's diffusion module).

Each call turns one source image into a new image with the same layout: a
condition map (Canny edges, or a pose map for images with a person) is
taken from the source image and drives diffusers'
``StableDiffusionControlNetPipeline`` with the given prompt and seed. An
optional early check decodes the predicted clean image part way through
the denoising loop and stops a hopeless sample before the remaining steps.

Everything loads from local folders (``local_files_only=True``): nothing
is downloaded at run time, and a missing folder raises an error that names
it and says how to obtain it.
"""
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import print_log
from PIL import Image
from torch import Tensor

from wsss_mm.registry import GENERATORS
from ..runner import resolve_device
from ..utils.diffusion_math import canny_condition, diffusion_size, predict_x0

#: How to obtain each folder (shown by the missing-folder error).
MODEL_SOURCES = {
    'sd_model': (
        'model_index.json', 'a Stable Diffusion 1.x diffusers folder',
        'huggingface-cli download stable-diffusion-v1-5/'
        'stable-diffusion-v1-5 --local-dir PATH'),
    'controlnet_model': (
        'config.json', 'a Canny ControlNet diffusers folder',
        'huggingface-cli download lllyasviel/sd-controlnet-canny '
        '--local-dir PATH'),
    'pose_controlnet_model': (
        'config.json', 'an OpenPose ControlNet diffusers folder',
        'huggingface-cli download lllyasviel/sd-controlnet-openpose '
        '--local-dir PATH'),
}

def set_scheduler(pipe, scheduler: Optional[str]) -> None:
    """Replace ``pipe.scheduler`` by the diffusers scheduler class named
    ``scheduler`` (same config); None keeps the folder's scheduler."""
    if scheduler is None:
        return
    import diffusers
    cls = getattr(diffusers, scheduler, None)
    if cls is None or not hasattr(cls, 'from_config'):
        raise ValueError(f'generator.scheduler: {scheduler!r} is '
                         'not a diffusers scheduler class')
    pipe.scheduler = cls.from_config(pipe.scheduler.config)


DTYPES = dict(
    float32=torch.float32, float16=torch.float16, bfloat16=torch.bfloat16)


def check_model_folder(path: Optional[str],
                       key: str,
                       prefix: str = 'generator.') -> str:
    """Return ``path`` if it is a diffusers folder of kind ``key``.

    ``prefix + key`` is the config key named by the error
    (``generator.sd_model``, ``model.sd_model``, ...).

    Raises:
        FileNotFoundError: the folder or its config file is missing; the
            message names the config key, the path and how to get it.
    """
    marker, what, how = MODEL_SOURCES[key]
    tiny = ('python tools/misc/make_tiny_diffusion.py OUT (random weights, '
            'for tests and CPU demos: OUT/sd, OUT/controlnet_canny'
            + (', OUT/controlnet_openpose with --pose'
               if key == 'pose_controlnet_model' else '') + ')')
    if not path or not osp.isfile(osp.join(path, marker)):
        state = ('is not set' if not path else
                 f'{path!r} does not exist' if not osp.exists(path) else
                 f'{path!r} has no {marker}')
        raise FileNotFoundError(
            f'{prefix}{key}: {what} is needed but {state}. Nothing is '
            f'downloaded at run time; get one with `{how}` and set '
            f'{prefix}{key}=PATH, or write tiny random folders with '
            f'`{tiny}`.')
    return path


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``'auto'``: float16 on CUDA, float32 elsewhere; else by name."""
    if dtype == 'auto':
        return torch.float16 if device.type == 'cuda' else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f'unknown dtype {dtype!r}; use auto or one of '
                         f'{sorted(DTYPES)}')
    return DTYPES[dtype]


@dataclass
class DiffusionSample:
    """One generated sample.

    Attributes:
        image (PIL.Image, optional): The image; None if the early check
            stopped the sample.
        condition (str): ``'canny'`` or ``'pose'``.
        steps (int): Denoising steps run (UNet calls).
        stopped_early (bool): The early check stopped it.
        early_score (float, optional): What the early check returned.
        notes (list[str]): Fall-backs taken (e.g. pose -> Canny).
    """
    image: Optional[Image.Image]
    condition: str
    steps: int
    stopped_early: bool = False
    early_score: Optional[float] = None
    notes: list = field(default_factory=list)


class _CleanSampleTracker:
    """Keeps the scheduler's latest clean-sample prediction (x0).

    diffusers pipelines call ``scheduler.step(..., return_dict=False)`` and
    drop the ``pred_original_sample`` many schedulers compute; while this
    context is active, the scheduler instance's ``step`` also records its
    inputs and output so :meth:`x0` can return the prediction of the last
    step (from the scheduler when it provides one, else from
    :func:`predict_x0`). The class method is untouched; the instance
    attribute is removed on exit.
    """

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.last = None

    def __enter__(self) -> '_CleanSampleTracker':
        original = type(self.scheduler).step.__get__(self.scheduler)

        def step(model_output, timestep, sample, *args, return_dict=True,
                 **kwargs):
            out = original(model_output, timestep, sample, *args,
                           return_dict=True, **kwargs)
            self.last = (model_output, timestep, sample, out)
            return out if return_dict else (out.prev_sample, )

        self.scheduler.step = step
        return self

    def __exit__(self, *exc) -> None:
        del self.scheduler.step

    def x0(self) -> Tensor:
        if self.last is None:
            raise RuntimeError('no denoising step has run yet')
        model_output, timestep, sample, out = self.last
        x0 = getattr(out, 'pred_original_sample', None)
        if x0 is None:
            x0 = predict_x0(model_output, timestep, sample,
                            self.scheduler.alphas_cumprod,
                            self.scheduler.config.prediction_type)
        return x0


@GENERATORS.register_module()
class ControlNetGenerator:
    """Stable Diffusion 1.x + ControlNet from local diffusers folders.

    Args:
        sd_model (str): Stable Diffusion 1.x diffusers folder.
        controlnet_model (str): Canny ControlNet folder.
        pose_controlnet_model (str, optional): OpenPose ControlNet folder,
            used with ``pose_estimator`` for images with a person.
        pose_estimator (dict, optional): A ``GENERATORS`` part mapping an
            RGB uint8 image to a pose map (or None when it finds nobody),
            e.g. ``dict(type='ControlNetAuxOpenPose', model_path=...)``.
            Without it (or without ``pose_controlnet_model``), images with
            a person use Canny, with a log line.
        num_inference_steps (int): Denoising steps.
        guidance_scale (float): Classifier-free guidance scale.
        controlnet_conditioning_scale (float): ControlNet residual scale.
        resolution (int | tuple): Output ``(height, width)`` or square
            side, multiples of 8; the source image is resized to it.
        canny_thresholds (tuple): ``cv2.Canny`` low/high thresholds.
        negative_prompt (str, optional): Negative prompt for every image.
        dtype (str): ``'auto'`` (float16 on CUDA, float32 on CPU),
            ``'float32'``, ``'float16'`` or ``'bfloat16'``.
        device (str): ``'auto'`` (``cuda:LOCAL_RANK`` when present, else
            CPU) or a torch device string.
        scheduler (str, optional): A diffusers scheduler class name to use
            instead of the folder's (e.g. ``'UniPCMultistepScheduler'``).
    """

    def __init__(self,
                 sd_model: str,
                 controlnet_model: str,
                 pose_controlnet_model: Optional[str] = None,
                 pose_estimator: Optional[dict] = None,
                 num_inference_steps: int = 20,
                 guidance_scale: float = 7.5,
                 controlnet_conditioning_scale: float = 1.0,
                 resolution: Union[int, Sequence[int]] = 512,
                 canny_thresholds: Sequence[int] = (100, 200),
                 negative_prompt: Optional[str] = None,
                 dtype: str = 'auto',
                 device: str = 'auto',
                 scheduler: Optional[str] = None) -> None:
        from diffusers import (ControlNetModel,
                               StableDiffusionControlNetPipeline)

        self.sd_model = check_model_folder(sd_model, 'sd_model')
        self.controlnet_model = check_model_folder(controlnet_model,
                                                   'controlnet_model')
        if pose_controlnet_model is not None:
            check_model_folder(pose_controlnet_model, 'pose_controlnet_model')
        if num_inference_steps < 1:
            raise ValueError('num_inference_steps must be >= 1')
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.controlnet_conditioning_scale = float(
            controlnet_conditioning_scale)
        self.height, self.width = diffusion_size(resolution)
        self.canny_thresholds = tuple(int(t) for t in canny_thresholds)
        self.negative_prompt = negative_prompt
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)

        load = dict(dtype=self.dtype, local_files_only=True)
        controlnet = ControlNetModel.from_pretrained(controlnet_model, **load)
        self.pipe = StableDiffusionControlNetPipeline.from_pretrained(
            sd_model,
            controlnet=controlnet,
            safety_checker=None,
            requires_safety_checker=False,
            **load)
        set_scheduler(self.pipe, scheduler)
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)

        self.pose_pipe = None
        self.pose_estimator = None
        self.pose_controlnet_model = pose_controlnet_model
        if pose_controlnet_model is not None and pose_estimator is not None:
            pose_net = ControlNetModel.from_pretrained(
                pose_controlnet_model, **load).to(self.device)
            self.pose_pipe = StableDiffusionControlNetPipeline(
                **dict(self.pipe.components, controlnet=pose_net))
            self.pose_pipe.set_progress_bar_config(disable=True)
            self.pose_estimator = GENERATORS.build(pose_estimator)
        elif (pose_controlnet_model is None) != (pose_estimator is None):
            print_log(
                'generator: pose conditioning needs both '
                'pose_controlnet_model and pose_estimator; images with a '
                'person will use Canny edges',
                logger='current',
                level=logging.WARNING)
        self.unet_calls = 0
        self.pipe.unet.register_forward_pre_hook(self._count_unet_call)

    def _count_unet_call(self, module, args) -> None:
        self.unet_calls += 1

    @property
    def model_ids(self) -> Dict[str, str]:
        """Folder names of the models (for the manifest)."""
        ids = dict(
            sd_model=osp.basename(osp.normpath(self.sd_model)),
            controlnet_model=osp.basename(osp.normpath(
                self.controlnet_model)))
        if self.pose_pipe is not None:
            ids['pose_controlnet_model'] = osp.basename(
                osp.normpath(self.pose_controlnet_model))
        return ids

    def condition(self, image: Image.Image,
                  has_person: bool = False) -> tuple:
        """The control image of ``image`` at the output size.

        Returns:
            tuple: ``(PIL control image, kind, notes)`` with kind
            ``'pose'`` or ``'canny'`` and the fall-backs taken.
        """
        rgb = np.asarray(
            image.convert('RGB').resize((self.width, self.height),
                                        Image.BICUBIC))
        notes = []
        if has_person:
            if self.pose_pipe is None:
                notes.append('pose->canny: no pose model configured')
            else:
                pose = self.pose_estimator(rgb)
                if pose is not None:
                    pose = Image.fromarray(np.asarray(pose, np.uint8))
                    return pose.resize((self.width, self.height)), 'pose', []
                notes.append('pose->canny: no person detected')
        edges = canny_condition(rgb, *self.canny_thresholds)
        return Image.fromarray(edges), 'canny', notes

    @torch.no_grad()
    def decode(self, latents: Tensor) -> Tensor:
        """VAE-decode latents to ``[B, 3, H, W]`` images in [0, 1]."""
        vae = self.pipe.vae
        images = vae.decode(
            latents.to(vae.dtype) / vae.config.scaling_factor,
            return_dict=False)[0]
        return (images.float() / 2 + 0.5).clamp(0, 1)

    @torch.no_grad()
    def __call__(self,
                 image: Image.Image,
                 prompt: str,
                 seed: int,
                 has_person: bool = False,
                 check_at: Optional[int] = None,
                 check_fn: Optional[Callable[[Tensor], tuple]] = None
                 ) -> DiffusionSample:
        """Generate one image from ``image``'s layout and ``prompt``.

        Args:
            image (PIL.Image): Source image.
            prompt (str): Text prompt.
            seed (int): Seed of the initial noise (the same seed gives the
                same image on the same device and dtype).
            has_person (bool): Use the pose ControlNet if configured.
            check_at (int, optional): Step index after which ``check_fn``
                runs on the decoded predicted clean image.
            check_fn (callable, optional): ``check_fn(images01) ->
                (keep_going, score)`` with ``images01`` a ``[1, 3, H, W]``
                tensor in [0, 1]; ``keep_going=False`` stops the sample.

        Returns:
            DiffusionSample: The image (None if stopped) and what ran.
        """
        # 1. Condition image: pose map for a person if possible, else Canny
        control, kind, notes = self.condition(image, has_person)
        pipe = self.pose_pipe if kind == 'pose' else self.pipe
        for note in notes:
            print_log(f'generator: {note}', logger='current',
                      level=logging.INFO)

        # 2. Early check: after step `check_at`, score the decoded x0
        state = dict(steps=0, stopped=False, score=None)
        tracker = _CleanSampleTracker(pipe.scheduler)

        def on_step_end(pipeline, i, t, callback_kwargs):
            state['steps'] = i + 1
            if check_fn is not None and i == check_at:
                keep_going, score = check_fn(self.decode(tracker.x0()))
                state['score'] = float(score)
                if not keep_going:
                    state['stopped'] = True
                    pipeline._interrupt = True  # skips the remaining steps
            return callback_kwargs

        # 3. Denoising loop of the diffusers pipeline, latents out
        generator = torch.Generator(device=self.device).manual_seed(
            int(seed))
        with tracker:
            latents = pipe(
                prompt=prompt,
                negative_prompt=self.negative_prompt,
                image=control,
                height=self.height,
                width=self.width,
                num_inference_steps=self.num_inference_steps,
                guidance_scale=self.guidance_scale,
                controlnet_conditioning_scale=(
                    self.controlnet_conditioning_scale),
                generator=generator,
                output_type='latent',
                callback_on_step_end=on_step_end,
                callback_on_step_end_tensor_inputs=['latents']).images
        if state['stopped']:
            return DiffusionSample(None, kind, state['steps'], True,
                                   state['score'], notes)

        # 4. Decode the final latents to an RGB image
        array = self.decode(latents)[0].permute(1, 2, 0).cpu().numpy()
        out = Image.fromarray((array * 255).round().astype(np.uint8))
        return DiffusionSample(out, kind, state['steps'], False,
                               state['score'], notes)
