"""Training throughput of the demo with 1 process vs 2 processes on CPU.

Usage (from the repo root, venv active)::

    python benchmarks/ddp_cpu.py [--iters 60] [--batch 8]

Runs ``tools/train.py`` (1 process with all cores' threads, and with one
thread) and ``tools/dist_train.sh CONFIG 2`` (2 processes over gloo, one
thread each) on the generated demo data with the same per-process batch,
reads the per-iteration times mmengine logs, drops the first 10 iterations
(start-up, allocator warm-up) and reports images per second.

On a 2-core machine one process with two threads already uses both cores,
so the meaningful figure is the parallel efficiency of the data-parallel
run: throughput of 2 processes x 1 thread over twice the throughput of
1 process x 1 thread (target >= 0.85). The raw comparison with 1 process
using every core is printed next to it, and the load average before and
after, since other work on the machine lowers every figure.
"""
import argparse
import glob
import json
import os
import os.path as osp
import socket
import statistics
import subprocess
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/demo/wsss_demo_cpu.py'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(nproc: int, iters: int, batch: int, data_root: str,
        work_dir: str, threads: int) -> float:
    """Train and return images per second over the steady iterations."""
    opts = [
        '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters*10}',
        f'train_dataloader.batch_size={batch}',
        'default_hooks.logger.interval=1',
        f'default_hooks.checkpoint.interval={iters * 10}',
        'default_hooks.checkpoint.save_last=False'
    ]
    env = dict(os.environ, PORT=str(_free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS=str(threads))
    if nproc == 1:
        cmd = [sys.executable, 'tools/train.py', CONFIG] + opts
    else:
        cmd = ['bash', 'tools/dist_train.sh', CONFIG, str(nproc)] + opts
    subprocess.run(cmd, cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    times = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data',
                                   'scalars.json')):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'time' in rec and rec.get('iter', 0) > 10:
                    times.append(rec['time'])
    if not times:
        raise RuntimeError(f'no iteration times logged in {work_dir}')
    return batch * nproc / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--data-root', default='data/demo_shapes')
    args = parser.parse_args()
    data_root = osp.join(REPO, args.data_root)
    subprocess.run([
        sys.executable, 'tools/dataset_converters/make_demo_data.py',
        '--out', data_root
    ], cwd=REPO, check=True)
    cores = os.cpu_count()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        one = run(1, args.iters, args.batch, data_root,
                  osp.join(tmp, 'p1'), threads=cores)
        one_1t = run(1, args.iters, args.batch, data_root,
                     osp.join(tmp, 'p1t1'), threads=1)
        two = run(2, args.iters, args.batch, data_root,
                  osp.join(tmp, 'p2'), threads=max(1, cores // 2))
    print(f'cores: {cores}, per-process batch: {args.batch}, '
          f'iterations: {args.iters} (first 10 dropped)')
    print(f'1 process, {cores} threads : {one:.1f} images/s')
    print(f'1 process, 1 thread   : {one_1t:.1f} images/s')
    print(f'2 processes, {max(1, cores // 2)} thread each: {two:.1f} images/s')
    print(f'speed-up 2 processes vs 1 process with all cores: '
          f'{two / one:.2f}x (target >= 1.6x)')
    print(f'speed-up 2 processes vs 1 process with 1 thread : '
          f'{two / one_1t:.2f}x (DDP scaling)')
    efficiency = two / (2 * one_1t)
    print(f'parallel efficiency, 2 x 1 thread vs 2 x (1 process x 1 '
          f'thread): {efficiency:.2f} (target >= 0.85)')
    load_after = os.getloadavg()
    print('load average (1, 5, 15 min) before: '
          f'{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}'
          f', after: {load_after[0]:.2f} {load_after[1]:.2f} '
          f'{load_after[2]:.2f}')


if __name__ == '__main__':
    main()
