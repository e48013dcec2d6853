"""Online classifier filter: IAA's image self-refinement.

A classifier trained on the original images (any wsss_mm model config +
checkpoint; the APC / ViT-PCM ``PatchClassifierSegmentor`` by default)
scores each generated image. The image is accepted when every class of
its source image scores at least ``threshold`` (see
:func:`~wsss_mm.generation.utils.diffusion_math.label_score`); otherwise
the generation loop tries again with a new seed and prompt, up to
``max_tries``.

Beyond the paper, ``early_check`` scores the *predicted clean image* (x0)
decoded part way through the denoising loop and stops samples whose score
is already below ``early_check['threshold']``, saving the remaining UNet
evaluations.

Checkpoints load with ``torch.load(..., weights_only=True)`` (or from
``.safetensors``); nothing in them can run code.
"""
import os.path as osp
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from PIL import Image
from torch import Tensor

from wsss_mm.registry import GENERATORS
from ..runner import resolve_device
from ..utils.diffusion_math import check_step, label_score


def load_state_dict_safely(path: str) -> dict:
    """Model weights from a checkpoint, never unpickling code.

    Accepts ``.safetensors`` files and ``torch.save`` files holding a state
    dict or a dict with a ``'state_dict'`` entry (mmengine checkpoints),
    loaded with ``weights_only=True``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        RuntimeError: the file holds objects beyond tensors and containers.
    """
    if not path or not osp.isfile(path):
        raise FileNotFoundError(
            f'filter.checkpoint: classifier checkpoint not found: {path!r}. '
            'Train the classifier on the original images first (e.g. '
            '`python tools/train.py configs/demo/wsss_demo_cpu.py` writes '
            'work_dirs/wsss_demo_cpu/iter_800.pth) and set '
            'filter.checkpoint=PATH.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # torch raises UnpicklingError subclasses
        raise RuntimeError(
            f'filter.checkpoint {path} cannot be loaded with '
            'weights_only=True (it holds Python objects beyond tensors; '
            f'{type(e).__name__}). Save only its weights, e.g. '
            "torch.save({'state_dict': model.state_dict()}, PATH), or "
            'convert it to .safetensors.') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise RuntimeError(f'filter.checkpoint {path} holds no state dict '
                           'of tensors')
    return state


def image_class_scores(model: torch.nn.Module, inputs: Tensor) -> Tensor:
    """Image-level class scores ``[B, C]`` in [0, 1] of a wsss_mm model.

    Models with an ``image_scores(inputs)`` method use it; models with a
    patch classifier head (``PatchClassifierSegmentor``: ViT-PCM, APC)
    give their pooled patch probabilities.

    Raises:
        TypeError: the model has neither.
    """
    if hasattr(model, 'image_scores'):
        return model.image_scores(inputs)
    head = getattr(model, 'cls_head', None)
    if head is not None and hasattr(head, 'pool') and hasattr(
            model, 'classifier_feat'):
        feats = model.extract_feat(inputs)
        return head.pool(head(model.classifier_feat(feats)))
    raise TypeError(
        f'{type(model).__name__} gives no image-level class scores: the '
        'filter needs a model with image_scores(inputs) -> [B, C] or a '
        'patch classifier head (PatchClassifierSegmentor)')


def _config_input_size(cfg: Config) -> Optional[Tuple[int, int]]:
    """``(h, w)`` of the first fixed ``Resize`` of the test pipeline."""
    for key in ('test_dataloader', 'val_dataloader'):
        pipeline = cfg.get(key, {}).get('dataset', {}).get('pipeline', [])
        for t in pipeline:
            if t.get('type') == 'Resize' and not t.get('keep_ratio', False):
                scale = t['scale']
                w, h = (scale, scale) if isinstance(scale, int) else scale
                return int(h), int(w)
    return None


@GENERATORS.register_module()
class ClassifierFilter:
    """Accept generated images whose classifier scores match their labels.

    Args:
        config (str): A wsss_mm model config (file path).
        checkpoint (str): Weights of that model (``weights_only=True``).
        threshold (float): Every label of the source image must score at
            least this.
        max_tries (int): Generation attempts per output image.
        early_check (dict, optional): ``dict(at=0.5, threshold=0.2)``:
            after ``at`` of the denoising steps, a sample whose decoded
            predicted clean image scores below ``threshold`` is stopped.
        input_size (int | tuple, optional): Classifier input ``(h, w)``;
            default: the fixed ``Resize`` of the config's test pipeline.
        device (str): ``'auto'`` or a torch device string.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 threshold: float = 0.5,
                 max_tries: int = 3,
                 early_check: Optional[dict] = None,
                 input_size: Union[int, Sequence[int], None] = None,
                 device: str = 'auto') -> None:
        from mmengine.registry import init_default_scope

        from wsss_mm.registry import MODELS
        from wsss_mm.utils import register_all_modules

        if not config or not osp.isfile(config):
            raise FileNotFoundError(
                f'filter.config: classifier config not found: {config!r} '
                '(a wsss_mm model config, e.g. configs/demo/'
                'wsss_demo_cpu.py)')
        if not 0 <= threshold <= 1:
            raise ValueError(f'filter.threshold must be in [0, 1], got '
                             f'{threshold}')
        if max_tries < 1:
            raise ValueError('filter.max_tries must be >= 1')
        self.threshold = float(threshold)
        self.max_tries = int(max_tries)
        self.early_check = None
        if early_check is not None:
            self.early_check = dict(
                at=float(early_check.get('at', 0.5)),
                threshold=float(early_check.get('threshold', threshold)))
            check_step(10, self.early_check['at'])  # validates `at`
        cfg = Config.fromfile(config)
        register_all_modules(init_default_scope=False)
        init_default_scope(cfg.get('default_scope', 'wsss_mm'))
        self.device = resolve_device(device)
        model = MODELS.build(cfg.model)
        state = load_state_dict_safely(checkpoint)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing:
            raise RuntimeError(
                f'filter.checkpoint {checkpoint} does not match '
                f'filter.config {config}: {len(missing)} missing weights, '
                f'e.g. {missing[:3]}')
        self.model = model.to(self.device).eval()
        if input_size is None:
            input_size = _config_input_size(cfg)
            if input_size is None:
                raise ValueError(
                    f'filter.input_size is not set and {config} has no '
                    'fixed Resize in its test pipeline')
        elif isinstance(input_size, int):
            input_size = (input_size, input_size)
        self.input_size = tuple(int(s) for s in input_size)
        self.config, self.checkpoint = config, checkpoint

    @property
    def model_id(self) -> str:
        return osp.basename(self.checkpoint)

    @torch.no_grad()
    def class_scores(self, images01: Tensor) -> Tensor:
        """``[B, C]`` class scores of RGB images ``[B, 3, H, W]`` in [0, 1].

        The images are resized to ``input_size``, scaled to 0..255 in the
        channel order the model's data preprocessor expects and normalised
        by it, as a test pipeline would.
        """
        x = F.interpolate(
            images01.float().to(self.device), size=self.input_size,
            mode='bilinear', align_corners=False) * 255
        pre = self.model.data_preprocessor
        if getattr(pre, 'channel_conversion', False):
            x = x.flip(1)  # it converts BGR (as loaded) to RGB
        batch = pre(dict(inputs=list(x), data_samples=None), False)
        return image_class_scores(self.model, batch['inputs']).float().cpu()

    def score_image(self, image: Image.Image) -> np.ndarray:
        """Class scores ``[C]`` of one PIL image."""
        arr = np.asarray(image.convert('RGB'), np.float32) / 255
        x = torch.from_numpy(arr).permute(2, 0, 1)[None]
        return self.class_scores(x)[0].numpy()

    def accepts(self, class_scores: np.ndarray,
                labels: Sequence[int]) -> Tuple[bool, float]:
        """``(accepted, label score)`` of one image."""
        s = label_score(class_scores, labels)
        return s >= self.threshold, s

    def early_stopper(self, labels: Sequence[int], num_steps: int
                      ) -> Tuple[Optional[int], Optional[Callable]]:
        """``(check_at, check_fn)`` for the generator, or ``(None, None)``
        without an early check or with fewer than 2 steps."""
        if self.early_check is None or num_steps < 2:
            return None, None
        at = check_step(num_steps, self.early_check['at'])
        thr = self.early_check['threshold']

        def check_fn(images01: Tensor) -> Tuple[bool, float]:
            s = label_score(self.class_scores(images01)[0].numpy(), labels)
            return s >= thr, s

        return at, check_fn
