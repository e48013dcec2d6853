"""The README's demo over several seeds: val mIoU and wall time per seed.

Usage (repo root, venv active; the demo data is generated if missing)::

    python benchmarks/demo_seeds.py --seeds 0 1 2 3 4 [--nproc 2] \\
        [--config configs/demo/wsss_demo_cpu.py] [--out work_dirs/seeds]

Each seed runs what ``bash tools/run_demo.sh --cfg-options
randomness.seed=N`` runs (tools/train.py, or tools/dist_train.sh with
``--nproc 2``, then tools/test.py on the last checkpoint) and the table
(seed, val mIoU, per-class IoU, train and test wall seconds, load average)
is written to OUT/results.md and OUT/results.json.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Sequence

from wsss_mm.utils.fileio import dump_json_atomic, write_text_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_seed(config: str,
             seed: int,
             nproc: int,
             work_dir: str,
             test_args: Sequence[str] = ()) -> dict:
    """Train and test one seed; returns its figures."""
    opts = ['--cfg-options', f'randomness.seed={seed}']
    if nproc > 1:
        cmd = ['bash', 'tools/dist_train.sh', config, str(nproc)]
        env = dict(os.environ, PYTHON=sys.executable)
    else:
        cmd = [sys.executable, 'tools/train.py', config]
        env = None
    load = os.getloadavg()[0]
    start = time.time()
    subprocess.run(
        cmd + ['--work-dir', work_dir] + opts,
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL)
    train_s = time.time() - start
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    start = time.time()
    subprocess.run([
        sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
        osp.join(work_dir, 'test')
    ] + list(test_args),
                   cwd=REPO,
                   check=True,
                   stdout=subprocess.DEVNULL)
    test_s = time.time() - start
    # The protocol-carrying result of tools/test.py (EvaluationResultHook;
    # result_test_crf.json when --crf is given).
    name = 'result_test_crf.json' if '--crf' in test_args else \
        'result_test.json'
    results = sorted(
        glob.glob(osp.join(work_dir, 'test', '**', name), recursive=True),
        key=osp.getmtime)
    if not results:
        raise RuntimeError(f'tools/test.py wrote no {name} under '
                           f'{work_dir}/test')
    with open(results[-1]) as f:
        metrics = json.load(f)['metrics']
    return dict(
        seed=seed,
        nproc=nproc,
        mIoU=metrics['mIoU'],
        per_class={k: v['IoU'] for k, v in metrics['per_class'].items()},
        train_seconds=train_s,
        test_seconds=test_s,
        load_before=load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--config', default='configs/demo/wsss_demo_cpu.py')
    parser.add_argument('--out', default='work_dirs/demo_seeds')
    parser.add_argument(
        '--crf',
        action='store_true',
        help='evaluate with tools/test.py --crf (the APC protocol)')
    args = parser.parse_args()
    subprocess.run([
        sys.executable, 'tools/dataset_converters/make_demo_data.py',
        '--out', 'data/demo_shapes'
    ],
                   cwd=REPO,
                   check=True)
    out = osp.join(REPO, args.out)
    rows = []
    for seed in args.seeds:
        work_dir = osp.join(out, f'seed{seed}_nproc{args.nproc}')
        row = run_seed(args.config, seed, args.nproc, work_dir,
                       ['--crf'] if args.crf else [])
        rows.append(row)
        print(row, flush=True)
    lines = [
        f'config: {args.config}, processes: {args.nproc}, '
        f'{os.cpu_count()} cores, CRF: {args.crf}', '',
        '| seed | val mIoU | train s | test s | load average (1 min) '
        'before |', '|---|---|---|---|---|'
    ]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['mIoU']:.1f} | "
                     f"{r['train_seconds']:.0f} | {r['test_seconds']:.0f} |"
                     f" {r['load_before']:.1f} |")
    values = [r['mIoU'] for r in rows]
    lines.append('')
    lines.append(f'min {min(values):.1f}, max {max(values):.1f}, mean '
                 f'{sum(values) / len(values):.1f} over {len(values)} '
                 'seeds')
    table = '\n'.join(lines) + '\n'
    print(table)
    write_text_atomic(osp.join(out, 'results.md'), table)
    dump_json_atomic(rows, osp.join(out, 'results.json'), indent=2)


if __name__ == '__main__':
    main()
