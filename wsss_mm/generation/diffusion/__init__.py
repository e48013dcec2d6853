"""Diffusion generators of the generation package."""
from .controlnet_generator import (ControlNetGenerator, DiffusionSample,
                                   check_model_folder)
from .diffsyn_generator import DiffSynGenerator, DiffSynSample
from .lora import SaveLoRAHook, StableDiffusionLoRA
from .tiny import make_tiny_diffusion

__all__ = [
    'ControlNetGenerator', 'DiffusionSample', 'check_model_folder',
    'make_tiny_diffusion', 'DiffSynGenerator', 'DiffSynSample',
    'StableDiffusionLoRA', 'SaveLoRAHook'
]
