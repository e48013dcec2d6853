"""Training-step time of the CPU ToCo and FSR CamVid configs.

Usage (repo root, venv active)::

    OMP_NUM_THREADS=2 python benchmarks/camvid_step_time.py \
        --data-root ../shared/data/camvid [--methods toco fsr] \
        [--iter 1000] [--warmup 2] [--repeats 5] [--baseline REV] \
        [--profile]

Builds ``configs/toco/toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py``
and ``configs/fsr/fsr_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py``
(random weights, batch 16), takes one real batch of CamVid tiles through
the config's train pipeline and data preprocessor, and times what the
runner does per iteration: ``model.loss``, backward, AdamW step and, for
FSR, the teacher EMA update (data loading excluded). ``--iter`` is the
iteration the schedules see (default 1000 of 2500: segmentation losses on,
FSR in its uncertain-masking phase). Prints the median wall time of
``--repeats`` steps after ``--warmup`` steps, and the median CPU time of
the process (all its threads: the work done, less sensitive than the wall
time to other jobs on the cores; threads that spin waiting for each other
count too); ``--profile`` adds a ``torch.profiler`` table of one more
step.

``--baseline REV`` also times the same config and numerics at git revision
``REV`` (its configs, and its ``par.py``, ``cam.py`` and ``dense_energy.py``
from ``wsss_mm/models/utils``, swapped into the ToCo segmentor and the
dense-energy loss for its steps), alternating baseline and current steps so
that both see the same load on a shared machine.
"""
import argparse
import contextlib
import os.path as osp
import statistics
import subprocess
import tarfile
import tempfile
import time
import types
from io import BytesIO

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import wsss_mm.models.losses.toco_losses as toco_losses
import wsss_mm.models.segmentors.toco as toco_segmentor
from wsss_mm.registry import MODELS
from wsss_mm.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(
    toco=osp.join('configs', 'toco',
                  'toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py'),
    fsr=osp.join('configs', 'fsr',
                 'fsr_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py'))
UTILS = ('par', 'cam', 'dense_energy')


def build(name: str, data_root: str, root: str = REPO):
    """Model, optimizer wrapper and one preprocessed training batch of
    ``name``'s config under ``root``."""
    cfg = Config.fromfile(osp.join(root, CONFIGS[name]))
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    data = model.data_preprocessor(next(iter(loader)), True)
    return model, wrapper, data, cfg.train_cfg.max_iters


def step(name: str, model, wrapper, data) -> None:
    """One training iteration as the runner (and FSR's hook) run it."""
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)
    if name == 'fsr':
        model.update_teacher(0.9995)


def checkout(rev: str, folder: str) -> dict:
    """Extract ``rev``'s configs into ``folder``; return its
    ``wsss_mm.models.utils`` modules named in ``UTILS``."""
    paths = [f'wsss_mm/models/utils/{m}.py' for m in UTILS]
    archive = subprocess.run(['git', 'archive', rev, 'configs', *paths],
                             cwd=REPO, check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter='data')
    modules = {}
    for name, path in zip(UTILS, paths):
        module = types.ModuleType(f'baseline_{name}')
        with open(osp.join(folder, path)) as f:
            exec(compile(f.read(), path, 'exec'), module.__dict__)
        modules[name] = module
    return modules


@contextlib.contextmanager
def numerics(modules: dict):
    """Use ``modules``' PAR, CAM refinement and dense energy in the ToCo
    segmentor and the dense-energy loss (no-op for None)."""
    if modules is None:
        yield
        return
    slots = [(toco_segmentor, 'pixel_adaptive_refine', 'par'),
             (toco_segmentor, 'refine_cams_with_background', 'cam'),
             (toco_losses, 'scaled_dense_energy', 'dense_energy')]
    saved = [getattr(owner, attr) for owner, attr, _ in slots]
    for owner, attr, name in slots:
        setattr(owner, attr, getattr(modules[name], attr))
    try:
        yield
    finally:
        for (owner, attr, _), value in zip(slots, saved):
            setattr(owner, attr, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data-root', default='data/camvid')
    parser.add_argument('--methods', nargs='+', default=['toco', 'fsr'])
    parser.add_argument('--iter', type=int, default=1000)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--baseline', help='git revision to compare with')
    parser.add_argument('--profile', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    MMLogger.get_instance('camvid_step_time', log_level='WARNING')
    tmp = tempfile.TemporaryDirectory()
    runs = [('current', REPO, None)]
    if args.baseline:
        runs.insert(0, (args.baseline, tmp.name,
                        checkout(args.baseline, tmp.name)))
    for name in args.methods:
        built = [build(name, args.data_root, root) for _, root, _ in runs]
        hub = MessageHub.get_current_instance()
        hub.update_info('iter', args.iter)
        hub.update_info('max_iters', built[-1][3])
        times = [([], []) for _ in runs]
        for i in range(args.warmup + args.repeats):
            for r, (_, _, modules) in enumerate(runs):
                model, wrapper, data, _ = built[r]
                with numerics(modules):
                    wall, cpu = time.perf_counter(), time.process_time()
                    step(name, model, wrapper, data)
                    if i >= args.warmup:
                        times[r][0].append(time.perf_counter() - wall)
                        times[r][1].append(time.process_time() - cpu)
        for (label, _, _), (wall, cpu) in zip(runs, times):
            print(f'{name} ({label}): iteration {args.iter}/{built[-1][3]}, '
                  f'{args.threads} threads, median of {args.repeats}: '
                  f'{statistics.median(wall):.2f} s/step wall (all: '
                  f'{", ".join(f"{t:.2f}" for t in wall)}), '
                  f'{statistics.median(cpu):.2f} s CPU time', flush=True)
        if args.profile:
            model, wrapper, data, _ = built[-1]
            with torch.profiler.profile() as prof:
                step(name, model, wrapper, data)
            print(prof.key_averages().table(
                sort_by='cpu_time_total', row_limit=30))
        del built


if __name__ == '__main__':
    main()
