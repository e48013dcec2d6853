"""LoRA adaptation of a Stable Diffusion UNet as an mmengine model.

:class:`StableDiffusionLoRA` wraps a diffusers SD 1.x folder (UNet, VAE,
text encoder, tokenizer, noise scheduler), freezes all of it and adds peft
LoRA adapters to the UNet's attention projections; its ``loss`` is the
usual denoising objective (noise, or v, prediction MSE) on images of an
unlabelled folder (:class:`~wsss_mm.datasets.ImageFolderDataset`) with one
fixed domain prompt. Trained by the ordinary ``tools/train.py`` /
``tools/dist_train.sh``, so logging, checkpoints, resume and DDP come from
mmengine; checkpoints hold the adapter weights only (the frozen SD weights
are read from ``sd_model`` again when the model is built).

:class:`SaveLoRAHook` writes the adapters in the diffusers/peft format
(``pytorch_lora_weights.safetensors`` with the LoRA config as metadata,
loadable with ``pipeline.load_lora_weights(folder)``) into
``WORK_DIR/lora`` at the end of training (and optionally every N
iterations).
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel, is_model_wrapper

from wsss_mm.registry import HOOKS, MODELS
from wsss_mm.utils.fileio import write_bytes_atomic
from .controlnet_generator import check_model_folder

LORA_WEIGHT_NAME = 'pytorch_lora_weights.safetensors'
DEFAULT_TARGETS = ('to_q', 'to_k', 'to_v', 'to_out.0')


def lora_state_dict(unet) -> Dict[str, torch.Tensor]:
    """The UNet's LoRA weights with diffusers' key names (``unet.`` prefix
    as ``save_lora_weights`` writes them)."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict
    state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    return {
        f'unet.{k}': v.detach().to('cpu', torch.float32).contiguous()
        for k, v in state.items()
    }


def save_lora_adapters(unet, folder: str) -> str:
    """Write the UNet's adapters as ``folder/pytorch_lora_weights.
    safetensors`` (atomic), in the format of diffusers'
    ``save_lora_weights`` (LoRA config in the metadata).

    Returns:
        str: The file written.
    """
    import safetensors.torch
    if not getattr(unet, 'peft_config', None):
        raise ValueError('the UNet has no LoRA adapter to save')
    cfg = unet.peft_config['default'].to_dict()
    cfg = json.loads(json.dumps(cfg, default=lambda o: sorted(o)
                                if isinstance(o, set) else str(o)))
    meta = {
        'format': 'pt',
        'lora_adapter_metadata': json.dumps(
            {f'unet.{k}': v for k, v in cfg.items()},
            indent=2, sort_keys=True)
    }
    data = safetensors.torch.save(lora_state_dict(unet), metadata=meta)
    path = osp.join(folder, LORA_WEIGHT_NAME)
    write_bytes_atomic(path, data)
    return path


def require_lora_folder(folder: str, key: str = 'generator.lora') -> str:
    """Return ``folder`` if it holds LoRA weights in diffusers' format."""
    if not osp.isfile(osp.join(folder or '', LORA_WEIGHT_NAME)):
        raise FileNotFoundError(
            f'{key}: {folder!r} has no {LORA_WEIGHT_NAME}; train adapters '
            f'with `python tools/train.py configs/diffsyn/lora_*.py` (they '
            f'end up in WORK_DIR/lora) or set {key}=None')
    return folder


@MODELS.register_module()
class StableDiffusionLoRA(BaseModel):
    """LoRA adapters on a frozen Stable Diffusion UNet, trained to denoise
    images of a target domain.

    Args:
        sd_model (str): Stable Diffusion 1.x diffusers folder.
        prompt (str): Text condition of every training image (the domain
            prompt, e.g. ``'a photo of a city street from a car'``).
        rank (int): LoRA rank.
        alpha (float, optional): LoRA alpha (default: ``rank``, i.e. scale
            1).
        target_modules (list[str]): UNet modules that get adapters.
        dropout (float): LoRA dropout.
        noise_offset (float): Offset noise strength (0: off).
        data_preprocessor (dict): Scales images to [-1, 1] RGB.
        init_cfg (dict, optional): Unused (the weights come from
            ``sd_model``).
    """

    def __init__(self,
                 sd_model: str,
                 prompt: str = 'a photo',
                 rank: int = 4,
                 alpha: Optional[float] = None,
                 target_modules: Sequence[str] = DEFAULT_TARGETS,
                 dropout: float = 0.0,
                 noise_offset: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='ImgDataPreprocessor',
                mean=[127.5] * 3,
                std=[127.5] * 3,
                bgr_to_rgb=True)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from diffusers import (AutoencoderKL, DDPMScheduler,
                               UNet2DConditionModel)
        from peft import LoraConfig
        from transformers import CLIPTextModel, CLIPTokenizer
        self.sd_model = check_model_folder(
            sd_model, 'sd_model', prefix='model.')
        kw = dict(local_files_only=True)
        self.unet = UNet2DConditionModel.from_pretrained(
            sd_model, subfolder='unet', **kw)
        self.vae = AutoencoderKL.from_pretrained(
            sd_model, subfolder='vae', **kw)
        self.text_encoder = CLIPTextModel.from_pretrained(
            sd_model, subfolder='text_encoder', **kw)
        self.tokenizer = CLIPTokenizer.from_pretrained(
            sd_model, subfolder='tokenizer', **kw)
        self.noise_scheduler = DDPMScheduler.from_pretrained(
            sd_model, subfolder='scheduler', **kw)
        self.prompt = prompt
        self.noise_offset = noise_offset
        for m in (self.unet, self.vae, self.text_encoder):
            m.requires_grad_(False)
        self.vae.eval()
        self.text_encoder.eval()
        self.unet.add_adapter(
            LoraConfig(
                r=rank,
                lora_alpha=rank if alpha is None else alpha,
                lora_dropout=dropout,
                init_lora_weights='gaussian',
                target_modules=list(target_modules)))
        self._trainable = [
            n for n, p in self.named_parameters() if p.requires_grad
        ]
        if not self._trainable or any('lora_' not in n
                                      for n in self._trainable):
            bad = [n for n in self._trainable if 'lora_' not in n][:5]
            raise RuntimeError(
                f'only LoRA adapter weights may train; got '
                f'{len(self._trainable)} trainable tensors, non-LoRA: {bad}')
        # checkpoints keep the adapters only (frozen weights come from
        # sd_model); mmengine's get_state_dict runs these hooks too
        self._register_state_dict_hook(_keep_trainable)

    def trainable_parameter_names(self) -> List[str]:
        """Names of the parameters that train (LoRA adapters only)."""
        return list(self._trainable)

    def train(self, mode: bool = True) -> 'StableDiffusionLoRA':
        super().train(mode)
        self.vae.eval()  # frozen parts never switch to training behaviour
        self.text_encoder.eval()
        return self

    @torch.no_grad()
    def _text_embeddings(self, batch: int, device) -> torch.Tensor:
        ids = self.tokenizer(
            [self.prompt],
            padding='max_length',
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors='pt').input_ids.to(device)
        emb = self.text_encoder(ids)[0]
        return emb.expand(batch, -1, -1)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode='loss'``: ``dict(loss=...)``; ``'tensor'``: the UNet's
        prediction and its target; ``'predict'``: not supported (this model
        is trained only; sample with a diffusers pipeline and
        ``load_lora_weights``)."""
        if mode == 'predict':
            raise NotImplementedError(
                'StableDiffusionLoRA does not predict; load the adapters '
                'into a pipeline with load_lora_weights(WORK_DIR/lora)')
        pred, target = self._denoise(inputs)
        if mode == 'loss':
            return dict(loss=F.mse_loss(pred.float(), target.float()))
        return pred, target

    def _denoise(self, images: torch.Tensor):
        with torch.no_grad():
            latents = self.vae.encode(
                images.to(self.vae.dtype)).latent_dist.sample()
            latents = latents * self.vae.config.scaling_factor
        noise = torch.randn_like(latents)
        if self.noise_offset:
            noise = noise + self.noise_offset * torch.randn(
                latents.shape[0], latents.shape[1], 1, 1,
                device=latents.device)
        b = latents.shape[0]
        sched = self.noise_scheduler
        t = torch.randint(
            0, sched.config.num_train_timesteps, (b, ),
            device=latents.device).long()
        noisy = sched.add_noise(latents, noise, t)
        emb = self._text_embeddings(b, latents.device)
        pred = self.unet(noisy, t, emb).sample
        if sched.config.prediction_type == 'v_prediction':
            target = sched.get_velocity(latents, noise, t)
        else:
            target = noise
        return pred, target

    def save_lora(self, folder: str) -> str:
        """Write the adapters (diffusers format) into ``folder``."""
        return save_lora_adapters(self.unet, folder)


def _keep_trainable(module, state_dict, prefix, local_metadata):
    keep = {prefix + n for n in module._trainable}
    for k in [k for k in state_dict if k.startswith(prefix)]:
        if k not in keep:
            del state_dict[k]
    return state_dict


@HOOKS.register_module()
class SaveLoRAHook(Hook):
    """Save the LoRA adapters in the diffusers format.

    Args:
        out_dir (str): Folder, relative to the work dir unless absolute.
        interval (int): Also save every ``interval`` iterations (0: only
            at the end).
    """

    priority = 'LOW'

    def __init__(self, out_dir: str = 'lora', interval: int = 0) -> None:
        self.out_dir = out_dir
        self.interval = interval

    def _save(self, runner) -> None:
        from mmengine.dist import is_main_process
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        folder = self.out_dir if osp.isabs(self.out_dir) else osp.join(
            runner.work_dir, self.out_dir)
        path = model.save_lora(folder)
        runner.logger.info(f'LoRA adapters saved to {path}')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._save(runner)

    def after_train(self, runner) -> None:
        self._save(runner)
