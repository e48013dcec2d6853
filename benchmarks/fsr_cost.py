"""Training-step cost of FSR relative to ToCo at the same batch.

Usage (repo root, venv active)::

    python benchmarks/fsr_cost.py [--arch b] [--crop 224] [--batch 2] \
        [--repeats 3] [--threads 2] [--device cuda] [--amp float16] \
        [--json results.json]

Both models come from their primary configs (``configs/toco/
toco_vitb_voc.py``, ``configs/fsr/fsr_vitb_voc.py``: ViT-B/16, CAM scales
1.0/0.5/1.5 with flips, PAR, LargeFOV decoder, ToCo's class token
contrast on 8 local crops, FSR's second view, aggregator, projector and
EMA teacher) with random weights; only the backbone input size (``--crop``;
the configs train at 448) and the batch are set here. One step is what the
runner does per iteration: ``model.loss`` on a batch, backward, AdamW
step, and for FSR the teacher EMA update (the hook's work). The batch is
random tensors (data loading excluded). Timed at an iteration after
ToCo's segmentation start (2000) in FSR's uncertain-masking phase (from
4000 of 20000: an extra multi-scale CAM of view 2), and once in FSR's
random phase. Medians over ``--repeats`` after one warm-up step. On a
GPU (``--device cuda``) each step ends with a synchronisation, the peak
memory of each model is reported, and ``--amp`` trains under mmengine's
``AmpOptimWrapper`` (autocast and a dynamic loss scale) as
``--cfg-options optim_wrapper.type=AmpOptimWrapper`` would.
"""
import argparse
import copy
import os.path as osp
import statistics
import time
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmseg.structures import SegDataSample

from wsss_mm.registry import MODELS
from wsss_mm.utils import register_all_modules
from wsss_mm.utils.fileio import dump_json_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(
    toco=osp.join(REPO, 'configs', 'toco', 'toco_vitb_voc.py'),
    fsr=osp.join(REPO, 'configs', 'fsr', 'fsr_vitb_voc.py'))


def build(name: str, arch: str, crop: int, device: str = 'cpu',
          amp: Optional[str] = None):
    """Model and optimizer wrapper of a config, random weights, on
    ``device``; ``amp`` (a dtype name) swaps in ``AmpOptimWrapper``."""
    cfg = Config.fromfile(CONFIGS[name])
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.arch = arch
    model_cfg.backbone.img_size = crop
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.to(device)
    model.train()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        wrapper_cfg.update(type='AmpOptimWrapper', dtype=amp)
    return model, build_optim_wrapper(model, wrapper_cfg)


def batch(num: int, crop: int, num_classes: int = 21, device: str = 'cpu'):
    """Random views and samples with two foreground labels each."""
    g = torch.Generator().manual_seed(1)
    views = [
        torch.randn(num, 3, crop, crop, generator=g).to(device)
        for _ in range(2)
    ]
    samples = []
    for i in range(num):
        s = SegDataSample(metainfo=dict(img_shape=(crop, crop),
                                        pad_shape=(crop, crop),
                                        ori_shape=(crop, crop)))
        labels = torch.zeros(num_classes)
        labels[[1 + i % 20, 1 + (i + 7) % 20]] = 1
        s.gt_image_labels = labels.to(device)
        samples.append(s)
    return views, samples


def time_steps(name: str, model, wrapper, views, samples, cur_iter: int,
               max_iters: int, repeats: int) -> float:
    """Median seconds of one training step."""
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', cur_iter)
    hub.update_info('max_iters', max_iters)
    inputs = views if name == 'fsr' else views[0]
    cuda = views[0].is_cuda
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        with wrapper.optim_context(model):
            losses = model.loss(inputs, samples)
        loss, _ = model.parse_losses(losses)
        wrapper.update_params(loss)
        if name == 'fsr':
            model.update_teacher(0.9995)
        if cuda:
            torch.cuda.synchronize()
        if i > 0:  # the first step warms up
            times.append(time.perf_counter() - start)
    if not torch.isfinite(loss):
        raise RuntimeError(f'{name}: the last loss is {loss.item()}')
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--arch', default='b')
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument(
        '--amp',
        choices=('float16', 'bfloat16'),
        help='mixed precision through AmpOptimWrapper (GPU)')
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    # Quiet the per-parameter init log.
    MMLogger.get_instance('mmengine', log_level='WARNING')
    cuda = args.device.startswith('cuda')
    if cuda:
        torch.backends.cudnn.benchmark = True
    views, samples = batch(args.batch, args.crop, device=args.device)
    results, peak = {}, {}
    for name, cur_iter in (('toco', 5000), ('fsr', 5000), ('fsr', 100)):
        model, wrapper = build(name, args.arch, args.crop, args.device,
                               args.amp)
        key = name if cur_iter >= 4000 else f'{name}_random_phase'
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        results[key] = time_steps(name, model, wrapper, views, samples,
                                  cur_iter, 20000, args.repeats)
        line = f'{key:18s}: {results[key]:7.3f} s/step'
        if cuda:
            peak[key] = torch.cuda.max_memory_allocated() / 2**30
            line += f', peak {peak[key]:.1f} GiB'
        print(line, flush=True)
        del model, wrapper
        if cuda:
            torch.cuda.empty_cache()
    where = (torch.cuda.get_device_name() if cuda else
             f'{args.threads} threads')
    print(f'ViT-{args.arch}/16 {args.crop}x{args.crop}, batch {args.batch}, '
          f'{where}, {args.amp or "float32"}, median of {args.repeats}')
    ratio = results['fsr'] / results['toco']
    print(f'FSR / ToCo (uncertain phase): {ratio:.2f}x (target <= 2.2x)')
    print(f"FSR / ToCo (random phase)   : "
          f"{results['fsr_random_phase'] / results['toco']:.2f}x")
    if args.json:
        dump_json_atomic(
            dict(vars(args), device_name=where, seconds=results,
                 peak_gib=peak, ratio=ratio), args.json, indent=2)


if __name__ == '__main__':
    main()
