"""IAA generation costs on CPU with the tiny random pipeline.

Usage (repo root, venv active)::

    python benchmarks/iaa_generation.py [--out work_dirs/bench_iaa]
        [--steps 20] [--sources 8] [--per-image 2] [--max-tries 8]
        [--at 0.3] [--skip-throughput]

1. UNet calls per accepted image, the online filter with the early check
   (score the decoded predicted clean image x0 after ``--at`` of the steps,
   stop samples below an early threshold) vs filtering after the last step
   only. The acceptance rule is fixed and the same for both: the final
   image's label score (the weakest of the source image's labels under the
   classifier) >= ``thr``. ``thr`` and the early threshold are calibrated
   on separate seeds (calibration ids ``calib-*``): ``thr`` is the
   ``--accept-quantile`` quantile of the final scores, the early threshold
   the ``--keep`` quantile of the early scores of the calibration samples
   that pass, so it keeps about ``1 - keep`` of the samples that would
   pass. Evaluation runs the real :class:`IAAProducer` (generator +
   filter + retries) on the demo images, both modes with the same seeds.
2. Generation throughput (accepted images per second of the generation
   loop, start-up excluded) of ``tools/generate_iaa.py`` with 1 process
   and with 2 processes (torchrun, ``--launcher pytorch``), tiny pipeline,
   threshold 0 (every image accepted).

Models: tiny random SD 1.x + Canny ControlNet folders
(``tools/misc/make_tiny_diffusion.py``) and a randomly initialised demo APC
classifier (configs/demo/wsss_demo_cpu.py) as the filter; images are
64x64. Results go to OUT/results.json and a table on stdout.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'iaa', 'generate_demo_cpu.py')
MODEL_CONFIG = osp.join(REPO, 'configs', 'demo', 'wsss_demo_cpu.py')


def prepare(out: str, sources: int) -> dict:
    """Demo images, tiny diffusion folders and a random filter model."""
    from mmengine.config import Config

    from wsss_mm.datasets import generate_demo_dataset
    from wsss_mm.generation.diffusion.tiny import make_tiny_diffusion
    from wsss_mm.registry import MODELS
    from wsss_mm.utils import register_all_modules
    from wsss_mm.utils.fileio import save_atomic
    register_all_modules(init_default_scope=True)
    demo = osp.join(out, 'demo')
    generate_demo_dataset(demo, num_train=sources, num_val=1, size=64,
                          seed=11)
    paths = make_tiny_diffusion(osp.join(out, 'tiny'), seed=0)
    ckpt = osp.join(out, 'filter.pth')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(MODEL_CONFIG).model)
    save_atomic(ckpt, lambda f: torch.save(
        {'state_dict': model.state_dict()}, f))
    return dict(demo=demo, ckpt=ckpt, **paths)


def build_parts(env: dict, steps: int, early=None):
    from wsss_mm.registry import GENERATORS
    gen = GENERATORS.build(
        dict(type='ControlNetGenerator', sd_model=env['sd_model'],
             controlnet_model=env['controlnet_model'],
             num_inference_steps=steps, guidance_scale=3.0, resolution=64,
             device='cpu'))
    filt = GENERATORS.build(
        dict(type='ClassifierFilter', config=MODEL_CONFIG,
             checkpoint=env['ckpt'], threshold=0.0, max_tries=1,
             early_check=early, input_size=64, device='cpu'))
    return gen, filt


def source_list(env: dict):
    from wsss_mm.generation.iaa import build_source_dataset, source_records
    ds = build_source_dataset(
        dict(type='DemoShapesDataset', data_root=env['demo'],
             ann_file='ImageSets/Segmentation/train.txt',
             data_prefix=dict(img_path='JPEGImages',
                              seg_map_path='SegmentationClass'),
             label_file='image_labels.json'))
    return list(ds.metainfo['classes']), source_records(ds)


def calibrate(env, steps, at, records, class_names, n_calib):
    """(early score, final score) of samples on calibration seeds."""
    from PIL import Image

    from wsss_mm.generation.utils import item_seed
    from wsss_mm.generation.utils.diffusion_math import check_step, label_score
    gen, filt = build_parts(env, steps)
    k = check_step(steps, at)
    pairs = []
    for i in range(n_calib):
        rec = records[i % len(records)]
        labels = rec['img_labels']
        early = []

        def record(x, labels=labels, early=early):
            s = label_score(filt.class_scores(x)[0].numpy(), labels)
            early.append(s)
            return True, s

        with Image.open(rec['img_path']) as im:
            src = im.convert('RGB')
        names = ' and '.join(class_names[c] for c in labels)
        out = gen(src, f'a photo of {names}', item_seed(99, 'calib', i),
                  check_at=k, check_fn=record)
        final = label_score(filt.score_image(out.image), labels)
        pairs.append((early[0], final))
    return np.array(pairs)


def evaluate(env, steps, records, class_names, per_image, max_tries, thr,
             early):
    """UNet calls and accepted images of the real IAAProducer."""
    from wsss_mm.generation import SkipItem
    from wsss_mm.generation.iaa import IAAProducer, build_work_items
    gen, filt = build_parts(env, steps, early)
    filt.threshold, filt.max_tries = thr, max_tries
    prompts = {n: ['in a park', 'on a street', 'in a kitchen', 'at night']
               for n in class_names}
    producer = IAAProducer(gen, filt, class_names, prompts, seed=3)
    accepted = shortfall = 0
    t0 = time.time()
    for item in build_work_items(records, per_image):
        try:
            producer(item)
            accepted += 1
        except SkipItem:
            shortfall += 1
    return dict(
        unet_calls=gen.unet_calls,
        accepted=accepted,
        shortfall=shortfall,
        early_stops=producer.early_stops,
        unet_calls_per_accepted=gen.unet_calls / max(accepted, 1),
        seconds=round(time.time() - t0, 2))


def throughput(env, out, steps, per_image, nproc):
    """Images/s of tools/generate_iaa.py with ``nproc`` processes."""
    work = osp.join(out, f'throughput_{nproc}p')
    opts = [
        f'source.data_root={env["demo"]}',
        f'generator.sd_model={env["sd_model"]}',
        f'generator.controlnet_model={env["controlnet_model"]}',
        f'generator.num_inference_steps={steps}',
        f'filter.checkpoint={env["ckpt"]}', 'filter.input_size=64',
        'filter.threshold=0.0', 'filter.early_check=None',
        f'num_per_image={per_image}', 'log_interval=30'
    ]
    tool = osp.join(REPO, 'tools', 'generate_iaa.py')
    if nproc == 1:
        cmd = [sys.executable, tool, CONFIG, '--work-dir', work,
               '--cfg-options'] + opts
    else:
        torchrun = osp.join(osp.dirname(sys.executable), 'torchrun')
        cmd = [torchrun, '--nproc_per_node', str(nproc), tool, CONFIG,
               '--work-dir', work, '--launcher', 'pytorch',
               '--cfg-options'] + opts
    env_vars = dict(os.environ, OMP_NUM_THREADS='1',
                    PYTHONPATH=REPO + os.pathsep +
                    os.environ.get('PYTHONPATH', ''))
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=REPO, env=env_vars,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t0
    with open(osp.join(work, 'generation_summary.json')) as f:
        s = json.load(f)
    return dict(processes=nproc, entries=s['entries'],
                loop_seconds=s['seconds'],
                images_per_s=round(s['entries'] / s['seconds'], 3),
                wall_seconds_with_startup=round(wall, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/bench_iaa')
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--sources', type=int, default=8)
    parser.add_argument('--per-image', type=int, default=2)
    parser.add_argument('--max-tries', type=int, default=8)
    parser.add_argument('--at', type=float, default=0.3)
    parser.add_argument('--calib', type=int, default=48)
    parser.add_argument('--accept-quantile', type=float, default=0.6)
    parser.add_argument('--keep', type=float, default=0.1)
    parser.add_argument('--skip-throughput', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(1)
    from wsss_mm.utils.fileio import dump_json_atomic

    os.makedirs(args.out, exist_ok=True)
    env = prepare(args.out, args.sources)
    class_names, records = source_list(env)
    pairs = calibrate(env, args.steps, args.at, records, class_names,
                      args.calib)
    thr = float(np.quantile(pairs[:, 1], args.accept_quantile))
    passing = pairs[pairs[:, 1] >= thr]
    early_thr = float(np.quantile(passing[:, 0], args.keep))
    corr = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    print(f'calibration: {len(pairs)} samples, corr(early, final) = '
          f'{corr:.3f}, thr = {thr:.4f}, early thr = {early_thr:.4f}')
    results = dict(
        settings=vars(args),
        calibration=dict(samples=len(pairs), corr=corr, threshold=thr,
                         early_threshold=early_thr),
        torch_threads=torch.get_num_threads())
    results['after_last_step'] = evaluate(
        env, args.steps, records, class_names, args.per_image,
        args.max_tries, thr, None)
    results['early_check'] = evaluate(
        env, args.steps, records, class_names, args.per_image,
        args.max_tries, thr, dict(at=args.at, threshold=early_thr))
    a, b = results['after_last_step'], results['early_check']
    results['ratio'] = (b['unet_calls_per_accepted'] /
                        a['unet_calls_per_accepted'])
    print('| mode | accepted | shortfall | early stops | UNet calls | '
          'calls / accepted | s |')
    print('|---|---|---|---|---|---|---|')
    for name, r in (('filter after the last step', a),
                    ('early check', b)):
        print(f'| {name} | {r["accepted"]} | {r["shortfall"]} | '
              f'{r["early_stops"]} | {r["unet_calls"]} | '
              f'{r["unet_calls_per_accepted"]:.1f} | {r["seconds"]} |')
    print(f'ratio (early / after last step): {results["ratio"]:.3f}')
    if not args.skip_throughput:
        results['throughput'] = [
            throughput(env, args.out, 10, 2, n) for n in (1, 2)
        ]
        for r in results['throughput']:
            print(r)
    dump_json_atomic(results, osp.join(args.out, 'results.json'), indent=2)


if __name__ == '__main__':
    main()
