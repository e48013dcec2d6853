"""CPU cost of dense CRF, test-time augmentation and pseudo-mask dumping.

Usage (from the repo root, venv active)::

    python benchmarks/crf_tta.py [--arch demo|apc-vitb] [--dump-images 24]

1. CRF: seconds per 500x375 image (VOC size) on one core, 10 mean-field
   iterations, 21 classes, ViT-PCM and ToCo parameters; and on the
   image's classes only (3 here), which is what ``make_pseudo_labels.py``
   runs on train images.
2. TTA: seconds per 500x375 image on one thread for a plain forward, ToCo's
   scales (1.0, 1.25, 1.5) x flip and ViT-PCM's 960x960 x flip. ``--arch
   demo`` is the tiny APC of ``configs/demo/wsss_demo_cpu.py`` (ViT 96-d,
   4 blocks, 8-px patches) with 21 classes; ``apc-vitb`` the real APC
   ViT-B/16 (random weights; same cost).
3. Dump: ``tools/make_pseudo_labels.py --crf --workers 2`` with the demo
   model (classifier pseudo masks, test size 128) on a VOC-layout copy of
   the 3 real VOC images (500x375-ish, ../shared/data/voc_samples)
   repeated ``--dump-images`` times; images per second and the estimate
   for the 10,582-image train_aug split.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
VOC_SAMPLES = osp.join(REPO, '..', 'shared', 'data', 'voc_samples',
                       'VOC2012')
TRAIN_AUG = 10582
H, W = 375, 500

import numpy as np  # noqa: E402
import torch  # noqa: E402

import wsss_mm  # noqa: E402,F401  (compat shims)


def voc_image() -> np.ndarray:
    """A real VOC photo at 500x375 (RGB), or textured noise without it."""
    import cv2
    path = osp.join(VOC_SAMPLES, 'JPEGImages', '2011_000006.jpg')
    if osp.isfile(path):
        img = cv2.imread(path)[..., ::-1]
        return np.ascontiguousarray(cv2.resize(img, (W, H)))
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)


def smooth_probs(num_classes: int, seed: int = 0) -> np.ndarray:
    """Spatially smooth class probabilities, like a network's output."""
    import cv2
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (num_classes, 24, 32)).astype(np.float32)
    logits = np.stack([cv2.resize(x, (W, H)) for x in logits])
    e = np.exp(logits - logits.max(0, keepdims=True))
    return (e / e.sum(0, keepdims=True)).astype(np.float32)


def bench_crf(reps: int) -> dict:
    from wsss_mm.models.utils.crf import TOCO_CRF, VITPCM_CRF, dense_crf
    img = voc_image()
    out = {}
    for name, cfg in (('vitpcm', VITPCM_CRF), ('toco', TOCO_CRF)):
        for c in (21, 3):
            probs = smooth_probs(c)
            dense_crf(img, probs, **cfg)  # warm-up
            t = time.process_time()
            for _ in range(reps):
                dense_crf(img, probs, **cfg)
            out[f'{name}_{c}cls'] = (time.process_time() - t) / reps
    return out


def build_model(arch: str):
    from mmengine.config import Config

    from wsss_mm.registry import MODELS
    if arch == 'demo':
        cfg = Config.fromfile(osp.join(REPO, 'configs/demo/wsss_demo_cpu.py'))
        cfg.model.cls_head.num_classes = 21
        cfg.model.decode_head.num_classes = 21
    else:
        cfg = Config.fromfile(
            osp.join(REPO, 'configs/_base_/models/apc_vit-b16.py'))
        cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def bench_tta(arch: str, reps: int) -> dict:
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate

    from wsss_mm.models.segmentors.tta import WSSSTTAModel
    torch.set_num_threads(1)  # one core
    model = build_model(arch)
    tmp = tempfile.mkdtemp()
    path = osp.join(tmp, 'img.png')
    import cv2
    cv2.imwrite(path, voc_image()[..., ::-1])
    flips = [
        dict(type='RandomFlip', prob=0., direction='horizontal'),
        dict(type='RandomFlip', prob=1., direction='horizontal')
    ]
    settings = {
        'plain_1.0': ([dict(type='Resize', scale_factor=1.0,
                            keep_ratio=True)], flips[:1], 'mean'),
        'toco_3scales_flip': ([
            dict(type='Resize', scale_factor=s, keep_ratio=True)
            for s in (1.0, 1.25, 1.5)
        ], flips, 'max'),
        'vitpcm_960_flip': ([
            dict(type='Resize', scale=(960, 960), keep_ratio=False)
        ], flips, 'mean'),
    }
    out = {}
    for name, (resizes, flip, merge) in settings.items():
        pipeline = Compose([
            dict(type='LoadImageFromFile'),
            dict(
                type='TestTimeAug',
                transforms=[resizes, flip, [dict(type='PackSegInputs')]])
        ])
        tta = WSSSTTAModel(module=model, merge=merge)
        batch = pseudo_collate([pipeline(dict(img_path=path))])
        with torch.no_grad():
            tta.test_step(batch)  # warm-up
            t = time.process_time()
            for _ in range(reps):
                tta.test_step(batch)
        out[name] = (time.process_time() - t) / reps
    shutil.rmtree(tmp)
    return out


def make_voc_copy(root: str, n: int) -> None:
    """VOC layout with the 3 real images repeated ``n`` times in total."""
    names = ['2011_000003', '2011_000006', '2011_000025']
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    listed = []
    for i in range(n):
        src = names[i % 3]
        dst = f'{src}_{i:04d}'
        shutil.copy(osp.join(VOC_SAMPLES, 'JPEGImages', src + '.jpg'),
                    osp.join(root, 'JPEGImages', dst + '.jpg'))
        shutil.copy(osp.join(VOC_SAMPLES, 'SegmentationClass', src + '.png'),
                    osp.join(root, 'SegmentationClass', dst + '.png'))
        listed.append(dst)
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write('\n'.join(listed) + '\n')


DUMP_CONFIG = """
_base_ = [{demo!r}]
num_classes = 21
model = dict(cls_head=dict(num_classes=num_classes),
             decode_head=dict(num_classes=num_classes),
             infer_from='classifier')
train_dataloader = dict(dataset=dict(
    _delete_=True, type='VOCWSSSDataset', data_root={root!r},
    ann_file='ImageSets/Segmentation/train.txt',
    data_prefix=dict(img_path='JPEGImages',
                     seg_map_path='SegmentationClass'),
    label_file=None, pipeline=[]))
"""


def bench_dump(n: int, workers: int) -> dict:
    if not osp.isdir(VOC_SAMPLES):
        return dict(skipped=f'{VOC_SAMPLES} not found')
    from mmengine.config import Config

    from wsss_mm.registry import MODELS
    tmp = tempfile.mkdtemp()
    root = osp.join(tmp, 'VOC2012')
    make_voc_copy(root, n)
    cfg_path = osp.join(tmp, 'dump.py')
    with open(cfg_path, 'w') as f:
        f.write(DUMP_CONFIG.format(
            demo=osp.join(REPO, 'configs/demo/wsss_demo_cpu.py'),
            root=root))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = osp.join(tmp, 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    env = dict(os.environ, WSSS_MM_CACHE=osp.join(tmp, 'cache'))
    cmd = [
        sys.executable, 'tools/make_pseudo_labels.py', cfg_path, ckpt,
        '--out', osp.join(tmp, 'out'), '--crf', '--workers', str(workers),
        '--log-interval', '1000'
    ]
    # The same command on 1 image measures start-up (imports, model, pool,
    # label cache); the difference gives the steady per-image cost.
    root1 = osp.join(tmp, 'one')
    make_voc_copy(root1, 1)
    cfg1 = osp.join(tmp, 'one.py')
    with open(cfg1, 'w') as f:
        f.write(DUMP_CONFIG.format(
            demo=osp.join(REPO, 'configs/demo/wsss_demo_cpu.py'),
            root=root1))

    def timed(command):
        # wall time, and CPU time of the tool and its CRF workers
        c0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run(command, cwd=REPO, env=env, check=True,
                       capture_output=True)
        return time.perf_counter() - t0, _children_cpu() - c0

    wall1, cpu1 = timed([cmd[0], cmd[1], cfg1] + cmd[3:5] +
                        [osp.join(tmp, 'out1')] + cmd[6:])
    wall, cpu = timed(cmd)
    shutil.rmtree(tmp)
    return dict(
        images=n,
        workers=workers,
        wall_s=wall,
        startup_wall_s=wall1,
        s_per_img=(wall - wall1) / max(n - 1, 1),
        cpu_s_per_img=(cpu - cpu1) / max(n - 1, 1))


def _children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', choices=['demo', 'apc-vitb'],
                        default='demo')
    parser.add_argument('--crf-reps', type=int, default=3)
    parser.add_argument('--tta-reps', type=int, default=3)
    parser.add_argument('--dump-images', type=int, default=24)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['crf', 'tta', 'dump'])
    args = parser.parse_args()
    from wsss_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    results = {}
    if 'crf' not in args.skip:
        crf = bench_crf(args.crf_reps)
        results['crf_s_per_img_1core'] = crf
        print('CRF, 500x375, 10 iterations, one core (s/img):')
        for k, v in crf.items():
            print(f'  {k:14s} {v:6.2f}')
    if 'tta' not in args.skip:
        tta = bench_tta(args.arch, args.tta_reps)
        results[f'tta_s_per_img_1thread_{args.arch}'] = tta
        print(f'TTA, {args.arch} model, 500x375, one thread (s/img):')
        for k, v in tta.items():
            print(f'  {k:18s} {v:6.2f}')
    if 'dump' not in args.skip:
        dump = bench_dump(args.dump_images, args.workers)
        results['dump_demo_model_crf'] = dump
        if 'skipped' in dump:
            print(f"dump: skipped ({dump['skipped']})")
        else:
            est = dump['s_per_img'] * TRAIN_AUG / 3600
            ideal = dump['cpu_s_per_img'] / 2 * TRAIN_AUG / 3600
            dump['train_aug_estimate_h'] = est
            dump['train_aug_estimate_h_2_idle_cores'] = ideal
            print(f"dump with CRF (vitpcm), demo model, {dump['workers']} "
                  f"workers: {dump['s_per_img']:.2f} s/img wall, "
                  f"{dump['cpu_s_per_img']:.2f} CPU s/img ({dump['images']}"
                  f' images, start-up excluded)\n  train_aug ({TRAIN_AUG} '
                  f'images): {est:.2f} h measured here, {ideal:.2f} h on '
                  '2 otherwise idle cores (CPU time / 2)')
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
