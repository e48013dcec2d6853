"""Text-to-image Stable Diffusion with attention-derived masks.

:class:`DiffSynGenerator` samples an image for a prompt with diffusers'
``StableDiffusionPipeline`` (local folders only, optional LoRA adapters),
records the UNet's attention while it samples
(:func:`~wsss_mm.generation.diffusion.attention.capture_attention`) and
turns it into a class-id mask with an
:class:`~wsss_mm.generation.masks.AttentionMaskExtractor`.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from wsss_mm.registry import GENERATORS
from ..masks import AttentionMaskExtractor
from ..runner import resolve_device
from ..utils.diffusion_math import diffusion_size
from ..utils.tokens import class_token_indices
from .attention import AttentionStore, capture_attention
from .controlnet_generator import (check_model_folder, resolve_dtype,
                                   set_scheduler)
from .lora import require_lora_folder


@dataclass
class DiffSynSample:
    """One generated image with its mask.

    Attributes:
        image (PIL.Image): RGB image.
        mask (np.ndarray): ``(H, W)`` uint8 class ids, 0 background, 255
            ignore.
        confidence (np.ndarray): ``(H, W)`` float32 in [0.5, 1].
        token_indices (dict): Prompt token positions per class id.
        steps (int): UNet calls.
    """
    image: Image.Image
    mask: np.ndarray
    confidence: np.ndarray
    token_indices: Dict[int, List[int]]
    steps: int


@GENERATORS.register_module()
class DiffSynGenerator:
    """Stable Diffusion 1.x text-to-image with cross-attention masks.

    Args:
        sd_model (str): Stable Diffusion 1.x diffusers folder.
        lora (str, optional): Folder with LoRA adapters in the diffusers
            format (``pytorch_lora_weights.safetensors``, e.g. the ``lora``
            folder of a ``configs/diffsyn/lora_*.py`` run).
        lora_scale (float): Strength of the adapters.
        num_inference_steps (int): Denoising steps.
        guidance_scale (float): Classifier-free guidance scale (> 1: the
            attention of the conditional branch is recorded).
        resolution (int | tuple): Output side or ``(height, width)``,
            multiples of 8.
        negative_prompt (str, optional): Negative prompt.
        mask (dict): :class:`AttentionMaskExtractor` arguments.
        capture_blocks (list[str]): UNet parts whose attention is used.
        capture_steps (list[int], optional): Denoising steps recorded (None:
            all).
        dtype (str): ``'auto'``, ``'float32'``, ``'float16'``, ``'bfloat16'``.
        device (str): ``'auto'`` or a torch device string.
        scheduler (str, optional): diffusers scheduler class replacing the
            folder's.
    """

    def __init__(self,
                 sd_model: str,
                 lora: Optional[str] = None,
                 lora_scale: float = 1.0,
                 num_inference_steps: int = 20,
                 guidance_scale: float = 7.5,
                 resolution: Union[int, Sequence[int]] = 512,
                 negative_prompt: Optional[str] = None,
                 mask: Optional[dict] = None,
                 capture_blocks: Sequence[str] = ('down', 'mid', 'up'),
                 capture_steps: Optional[Sequence[int]] = None,
                 dtype: str = 'auto',
                 device: str = 'auto',
                 scheduler: Optional[str] = None) -> None:
        from diffusers import StableDiffusionPipeline
        self.sd_model = check_model_folder(sd_model, 'sd_model')
        if num_inference_steps < 1:
            raise ValueError('num_inference_steps must be >= 1')
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.height, self.width = diffusion_size(resolution)
        self.negative_prompt = negative_prompt
        self.capture_blocks = tuple(capture_blocks)
        self.capture_steps = (None if capture_steps is None else
                              list(capture_steps))
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.pipe = StableDiffusionPipeline.from_pretrained(
            sd_model,
            torch_dtype=self.dtype,
            local_files_only=True,
            safety_checker=None,
            requires_safety_checker=False)
        set_scheduler(self.pipe, scheduler)
        self.lora = lora
        self.lora_scale = float(lora_scale)
        if lora is not None:
            require_lora_folder(lora)
            self.pipe.load_lora_weights(lora, adapter_name='diffsyn')
            self.pipe.set_adapters(['diffsyn'], [self.lora_scale])
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.extractor = AttentionMaskExtractor(**(mask or dict(
            rule='adaptive')))
        f = self.pipe.vae_scale_factor
        self.latent_hw: Tuple[int, int] = (self.height // f,
                                           self.width // f)

    @property
    def model_ids(self) -> Dict[str, str]:
        """Folder names of the models (for the manifest)."""
        ids = dict(sd_model=osp.basename(osp.normpath(self.sd_model)))
        if self.lora is not None:
            ids['lora'] = osp.basename(osp.normpath(self.lora))
        return ids

    def new_store(self) -> AttentionStore:
        """An attention store set up for this generator's settings."""
        return AttentionStore(
            cross=True,
            cross_resolutions=self.extractor.resolutions,
            self_resolutions=self.extractor.self_resolutions,
            conditional_half=self.guidance_scale > 1,
            steps=self.capture_steps,
            latent_hw=self.latent_hw)

    @torch.no_grad()
    def sample(self, prompt: str, seed: int,
               store: Optional[AttentionStore] = None) -> Image.Image:
        """Sample one image; records attention into ``store`` if given."""
        gen = torch.Generator(
            self.device if self.device.type == 'cuda' else 'cpu')
        gen.manual_seed(int(seed))
        kwargs = dict(
            prompt=prompt,
            negative_prompt=self.negative_prompt,
            height=self.height,
            width=self.width,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            generator=gen,
            output_type='pil')
        if store is None:
            return self.pipe(**kwargs).images[0]
        with capture_attention(self.pipe.unet, store, self.capture_blocks):
            return self.pipe(**kwargs).images[0]

    def __call__(self, prompt: str,
                 class_phrases: Dict[int, Union[str, Sequence[str]]],
                 seed: int) -> DiffSynSample:
        """Generate an image and its mask.

        Args:
            prompt (str): Text prompt.
            class_phrases (dict): ``{class_id: phrase or [phrases]}`` naming
                each class in the prompt (class name, synonym).
            seed (int): Seed of the initial noise.

        Returns:
            DiffSynSample: Image, mask, confidence.

        Raises:
            ValueError: A class phrase is not in the prompt's tokens.
        """
        tokens = class_token_indices(self.pipe.tokenizer, prompt,
                                     class_phrases)
        store = self.new_store()
        image = self.sample(prompt, seed, store)
        mask, conf = self.extractor(
            store, tokens, (self.height, self.width),
            image=np.asarray(image.convert('RGB')))
        return DiffSynSample(image, mask, conf, tokens, store.step + 1)
