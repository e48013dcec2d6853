"""Convert a timm VisionTransformer checkpoint to mmpretrain's key names.

Usage::

    python tools/model_converters/timm_vit_to_mmpretrain.py \\
        vit_base_patch16_384.pth pretrain/vit-b16_384_mmpretrain.pth \\
        --img-size 384 --patch-size 16

The output ``{'state_dict': ...}`` loads with strict key matching into
``mmpretrain.VisionTransformer`` (``final_norm=True``) and through
``init_cfg=dict(type='Pretrained', checkpoint=...)``. Nothing is
downloaded: SRC is a local ``.pth``/``.bin``/``.safetensors`` file.
"""
import argparse
import math
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

# timm block sub-module -> mmpretrain TransformerEncoderLayer sub-module.
_BLOCK_MAP = {
    'norm1': 'ln1',
    'attn.qkv': 'attn.qkv',
    'attn.proj': 'attn.proj',
    'norm2': 'ln2',
    'mlp.fc1': 'ffn.layers.0.0',
    'mlp.fc2': 'ffn.layers.1',
}
# Layer scale: timm's LayerScale.gamma -> mmpretrain's LayerScale.weight.
_LAYER_SCALE_MAP = {
    'ls1.gamma': 'attn.gamma1.weight',
    'ls2.gamma': 'ffn.gamma2.weight',
}
_TOP_MAP = {
    'cls_token': 'cls_token',
    'patch_embed.proj.weight': 'patch_embed.projection.weight',
    'patch_embed.proj.bias': 'patch_embed.projection.bias',
    'norm_pre.weight': 'pre_norm.weight',
    'norm_pre.bias': 'pre_norm.bias',
    'norm.weight': 'ln1.weight',
    'norm.bias': 'ln1.bias',
}
# Classification-head parts a dense-prediction backbone does not use.
_DROPPED_PREFIXES = ('head.', 'fc_norm.', 'head_drop.')
_BLOCK_KEY = re.compile(r'^blocks\.(\d+)\.(.+)\.(weight|bias|gamma)$')


def _grid_of(num_tokens: int) -> Optional[int]:
    side = math.isqrt(num_tokens)
    return side if side * side == num_tokens else None


def _convert_pos_embed(pos_embed: torch.Tensor, has_cls_token: bool,
                       target_grid: Optional[Tuple[int, int]]) -> torch.Tensor:
    """Give pos_embed a cls entry and resize its grid (bicubic)."""
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError('pos_embed must be [1, L, D], got '
                         f'{tuple(pos_embed.shape)}')
    length = pos_embed.shape[1]
    if has_cls_token and _grid_of(length) is not None \
            and _grid_of(length - 1) is None:
        # timm's no_embed_class models add pos_embed to the patches only,
        # which is the same as a zero position vector for the cls token.
        pos_embed = torch.cat(
            [pos_embed.new_zeros(1, 1, pos_embed.shape[2]), pos_embed], 1)
    num_extra = 1 if has_cls_token else 0
    if target_grid is None:
        return pos_embed
    side = _grid_of(pos_embed.shape[1] - num_extra)
    if side is None:
        raise ValueError(
            f'cannot infer a square patch grid from pos_embed of shape '
            f'{tuple(pos_embed.shape)} with {num_extra} extra token(s)')
    dst_h, dst_w = (int(s) for s in target_grid)
    if (side, side) == (dst_h, dst_w):
        return pos_embed
    extra = pos_embed[:, :num_extra]
    grid = pos_embed[:, num_extra:].reshape(1, side, side, -1)
    grid = grid.permute(0, 3, 1, 2)
    # Bicubic interpolation runs in float32 (not defined for half on CPU).
    grid = F.interpolate(
        grid.float(), size=(dst_h, dst_w), mode='bicubic',
        align_corners=False).to(pos_embed.dtype)
    grid = grid.flatten(2).transpose(1, 2)
    return torch.cat([extra, grid], dim=1)


def convert_timm_vit(
    state_dict: Dict[str, torch.Tensor],
    target_grid: Optional[Tuple[int, int]] = None
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a timm ViT state dict to mmpretrain ``VisionTransformer``.

    ``patch_embed.proj`` -> ``patch_embed.projection``, ``blocks.N`` ->
    ``layers.N`` (``norm1/norm2`` -> ``ln1/ln2``, ``mlp.fc1/fc2`` ->
    ``ffn.layers.0.0/ffn.layers.1``, layer scale ``ls1/ls2.gamma`` ->
    ``attn.gamma1/ffn.gamma2.weight``), the final ``norm`` -> ``ln1``
    (``final_norm=True``) and ``norm_pre`` -> ``pre_norm``. The
    classification head (``head``, ``fc_norm``) is dropped.

    Args:
        state_dict (dict): timm ``VisionTransformer`` state dict.
        target_grid (tuple[int, int], optional): Patch grid ``(h, w)`` of
            the target model; ``pos_embed`` is resized to it (bicubic, the
            cls entry kept) when the source grid differs. None keeps it.

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        ValueError: A key has no mmpretrain counterpart (e.g. q/k norm or
            register tokens), since dropping it would silently change the
            network.
    """
    # Checkpoints saved from a DDP-wrapped model carry a 'module.' prefix.
    state_dict = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }
    has_cls_token = 'cls_token' in state_dict
    converted = OrderedDict()
    unsupported: List[str] = []
    for key, value in state_dict.items():
        if key == 'pos_embed':
            converted[key] = _convert_pos_embed(value, has_cls_token,
                                                target_grid)
        elif key in _TOP_MAP:
            converted[_TOP_MAP[key]] = value
        elif key.startswith(_DROPPED_PREFIXES):
            continue
        else:
            match = _BLOCK_KEY.match(key)
            new_key = None
            if match is not None:
                idx, module, param = match.groups()
                scale_key = f'{module}.{param}'
                if scale_key in _LAYER_SCALE_MAP:
                    new_key = f'layers.{idx}.{_LAYER_SCALE_MAP[scale_key]}'
                elif module in _BLOCK_MAP and param != 'gamma':
                    new_key = f'layers.{idx}.{_BLOCK_MAP[module]}.{param}'
            if new_key is None:
                unsupported.append(key)
            else:
                converted[new_key] = value
    if unsupported:
        raise ValueError(
            'timm keys without an mmpretrain VisionTransformer counterpart: '
            f'{unsupported}')
    return converted


def load_timm_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Load a local timm checkpoint without executing pickled code.

    Args:
        path (str): ``.safetensors`` file or a ``torch.save`` file holding
            a state dict, possibly under ``'state_dict'`` or ``'model'``.

    Returns:
        dict: The state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise ImportError('reading .safetensors needs the safetensors '
                              'package: pip install safetensors') from e
        return load_file(path, device='cpu')
    # Third-party weights: weights_only refuses pickled code.
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(wrapper), dict):
            return checkpoint[wrapper]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path} holds a {type(checkpoint).__name__}, not a '
                        'state dict')
    return checkpoint


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a timm ViT checkpoint to mmpretrain keys.')
    parser.add_argument('src', help='timm checkpoint (.pth/.bin/.safetensors)')
    parser.add_argument('dst', help='output .pth for mmpretrain')
    parser.add_argument(
        '--img-size',
        type=int,
        default=384,
        help='training image size of the target model (pos_embed is '
        'resized to img_size // patch_size per side)')
    parser.add_argument(
        '--patch-size', type=int, default=16, help='patch size of the ViT')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.patch_size <= 0 or args.img_size % args.patch_size:
        raise SystemExit(f'--img-size {args.img_size} is not a multiple of '
                         f'--patch-size {args.patch_size}')
    side = args.img_size // args.patch_size
    state_dict = load_timm_state_dict(args.src)
    converted = convert_timm_vit(state_dict, target_grid=(side, side))
    out_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(out_dir, exist_ok=True)
    torch.save({'state_dict': converted}, args.dst)
    pos = converted.get('pos_embed')
    print(f'saved {len(converted)} tensors to {args.dst}' +
          (f' (pos_embed {tuple(pos.shape)})' if pos is not None else ''))


if __name__ == '__main__':
    main()
