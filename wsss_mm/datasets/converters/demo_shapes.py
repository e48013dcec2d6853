"""Generate the synthetic shapes demo dataset (idempotent).

Example::

    python tools/dataset_converters/make_demo_data.py --out data/demo_shapes
"""
import argparse

from wsss_mm.datasets.demo_shapes import (demo_dataset_complete,
                                          generate_demo_dataset)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the synthetic shapes dataset (VOC layout)')
    parser.add_argument('--out', default='data/demo_shapes')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even when the dataset is complete')
    return parser.parse_args(argv)


def main(argv=None) -> bool:
    """Generate unless complete; returns True when it generated."""
    args = parse_args(argv)
    settings = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        seed=args.seed)
    if not args.force and demo_dataset_complete(args.out, **settings):
        print(f'{args.out}: demo dataset complete, nothing to do '
              '(--force regenerates)')
        return False
    print(f'{args.out}: generating {args.num_train} train + {args.num_val} '
          f'val images of {args.size}x{args.size} ...')
    generate_demo_dataset(args.out, **settings)
    print(f'{args.out}: done')
    return True
