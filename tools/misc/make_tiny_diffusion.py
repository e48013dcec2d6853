"""Write tiny random diffusers folders (SD 1.x layout + Canny ControlNet).

For tests and CPU demos only: the weights are random, the images noise.
Nothing is downloaded; the folders are built from configs in code.

Example::

    python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
    # -> work_dirs/tiny_diffusion/sd, .../controlnet_canny
"""
import argparse

from wsss_mm.generation.diffusion.tiny import make_tiny_diffusion


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write tiny random Stable Diffusion + ControlNet '
        'folders (diffusers layout) for tests and CPU demos')
    parser.add_argument('out', help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-controlnet',
        action='store_true',
        help='write only the Stable Diffusion folder')
    parser.add_argument(
        '--pose', action='store_true', help='also write a pose ControlNet')
    parser.add_argument(
        '--words',
        nargs='*',
        default=(),
        help='extra words (e.g. class names) to make single tokens')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='rewrite folders that already exist')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    paths = make_tiny_diffusion(
        args.out,
        seed=args.seed,
        controlnet=not args.no_controlnet,
        pose_controlnet=args.pose,
        words=args.words,
        overwrite=args.overwrite)
    for key, path in paths.items():
        print(f'{key}: {path}')
    return paths


if __name__ == '__main__':
    main()
