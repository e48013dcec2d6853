"""ViT backbone with clear pretrained-weight errors."""
import os.path as osp

from mmpretrain.models.backbones import VisionTransformer

from wsss_mm.registry import MODELS

PRETRAINED_HINT = (
    'This toolkit never downloads weights. Convert a timm ViT checkpoint '
    'you hold (e.g. ViT-B/16 ImageNet-21k pretrained, 1k fine-tuned, 384 '
    'px) with `python tools/model_converters/timm_vit_to_mmpretrain.py '
    'SRC {path} --img-size 384`, or train from scratch with '
    '`--cfg-options model.backbone.init_cfg=None`.')


@MODELS.register_module()
class WSSSVisionTransformer(VisionTransformer):
    """mmpretrain ``VisionTransformer`` used by the WSSS segmentors.

    Same arguments and outputs as mmpretrain's ViT (use
    ``out_type='featmap'`` for ``[B, C, h, w]`` maps at ``out_indices``).
    The only addition: a missing pretrained file named in ``init_cfg``
    raises an error that says which file and how to produce it, instead of
    mmengine's bare 'can not be found', and a URL is refused (mmengine would
    download it).
    """

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
