"""CamVid-tiles benchmark for ToCo, at the APC benchmark's protocol.

Usage (repo root, venv active)::

    python benchmarks/camvid_toco.py --data-root ../shared/data/camvid \
        [--iters 2500] [--out work_dirs/bench_camvid_toco] [--opts K=V ...]

Same tiles, labels, batch (16), input size (128) and metrics as
``benchmarks/camvid_apc.py`` (whose evaluation functions this reuses):
train pseudo-mask mIoU (ToCo's multi-scale CAMs restricted to each tile's
image labels), val pseudo-mask mIoU (likewise on val) and val segmentation
mIoU (the LargeFOV decoder, no labels). The segmentation loss starts after
a tenth of the iterations (ToCo: 2,000 of 20,000).
"""
import argparse
import importlib.util
import os
import os.path as osp
import subprocess
import sys
import time

from wsss_mm.utils import register_all_modules
from wsss_mm.utils.fileio import dump_json_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/toco/toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py'


def _apc_benchmark():
    spec = importlib.util.spec_from_file_location(
        'camvid_apc', osp.join(REPO, 'benchmarks', 'camvid_apc.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data-root', default='../shared/data/camvid')
    parser.add_argument('--iters', type=int, default=2500)
    parser.add_argument('--out', default='work_dirs/bench_camvid_toco')
    parser.add_argument('--skip-train', action='store_true')
    parser.add_argument(
        '--opts', nargs='*', default=[],
        help='extra --cfg-options for training and evaluation')
    args = parser.parse_args()
    register_all_modules()
    bench = _apc_benchmark()
    data_root = osp.abspath(args.data_root)
    work_dir = osp.join(REPO, args.out)
    os.makedirs(work_dir, exist_ok=True)
    seconds = None
    if not args.skip_train:
        opts = [
            f'{k}.dataset.data_root={data_root}'
            for k in ('train_dataloader', 'val_dataloader',
                      'test_dataloader')
        ] + [
            f'train_cfg.max_iters={args.iters}',
            f'train_cfg.val_interval={args.iters}',
            f'param_scheduler.1.end={args.iters}',
            f'default_hooks.checkpoint.interval={args.iters}',
            f'model.seg_start_iter={args.iters // 10}',
            'default_hooks.logger.interval=10',
        ] + list(args.opts)
        start = time.time()
        subprocess.run([
            sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            work_dir, '--cfg-options'
        ] + opts, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        seconds = time.time() - start
        print(f'trained {args.iters} iterations in {seconds:.0f} s',
              flush=True)
    # the evaluation builds the model from the config as trained
    config = osp.join(work_dir, osp.basename(CONFIG))
    if not osp.isfile(config):
        config = CONFIG
    ckpt = osp.join(work_dir, f'iter_{args.iters}.pth')
    result = {'train seconds': seconds, 'iterations': args.iters}
    for key, split, infer_from in (
            ('train pseudo mIoU', 'train', 'classifier'),
            ('val pseudo mIoU', 'val', 'classifier'),
            ('val seg mIoU', 'val', 'decoder')):
        start = time.time()
        result[key] = float(
            bench.evaluate_model(config, ckpt, data_root, split,
                                 infer_from)['mIoU'])
        print(f'{key}: {100 * result[key]:.1f} '
              f'({time.time() - start:.0f} s)', flush=True)
    dump_json_atomic(result, osp.join(work_dir, 'results.json'), indent=2)


if __name__ == '__main__':
    main()
