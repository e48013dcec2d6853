"""Cost of APC's parts next to the backbone, and PCL's memory at test size.

Usage (repo root, venv active)::

    python benchmarks/apc_cost.py [--repeats 5] [--threads 2]

1. ViT-S/16 (mmpretrain 'deit-small': 384 dims, 12 layers) at 384x384,
   batch 4, CPU: forward+backward time of the backbone vs the APC parts
   (patch classifier head + adaptive-K pooling + MCE + PCL) on its 24x24
   patch embeddings. The HV-BiLSTM neck (ViT-PCM's part, not APC's) is
   timed separately. Medians over repeats after one warm-up.
2. PCL forward+backward at inference size: 60x60 = 3,600 patches, 768
   dims, 21 classes, batch 1, in a fresh process; peak resident memory
   of that step above the memory before it (Linux VmHWM after a reset).
"""
import argparse
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def part_costs(repeats: int) -> dict:
    from wsss_mm.registry import MODELS
    from wsss_mm.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(
            type='WSSSVisionTransformer',
            arch='deit-small',
            img_size=384,
            patch_size=16,
            out_indices=(11, ),
            out_type='featmap',
            init_cfg=None))
    head = MODELS.build(
        dict(
            type='PatchClassifierHead',
            in_channels=384,
            num_classes=21,
            pooling=dict(type='AdaptiveKPool', k_max=6, gap=0.1),
            loss_cls=dict(type='MCELoss'),
            loss_contrast=dict(type='PatchContrastLoss', loss_weight=0.02)))
    neck = MODELS.build(
        dict(type='HVBiLSTM', in_channels=384, hidden_channels=96))
    x = torch.randn(4, 3, 384, 384)
    labels = torch.zeros(4, 21)
    labels[:, 0] = 1
    labels[:, [3, 7]] = 1

    def run_backbone():
        feats = backbone(x)[-1]
        feats.sum().backward()

    feats = backbone(x)[-1].detach()

    def run_parts():
        f = feats.clone().requires_grad_(True)
        losses, _ = head.loss(f, labels)
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    def run_neck():
        f = feats.clone().requires_grad_(True)
        neck(f).sum().backward()

    return dict(
        backbone=_timed(run_backbone, repeats),
        apc_parts=_timed(run_parts, repeats),
        hv_bilstm=_timed(run_neck, repeats))


# Linux: writing 5 to /proc/self/clear_refs resets the peak RSS (VmHWM),
# so the peak of the PCL step alone is VmHWM - VmRSS before it.
PCL_MEMORY_CODE = r"""
import sys, torch
sys.path.insert(0, {repo!r})
from wsss_mm.models.utils import patch_contrast_loss

def status_kb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])

torch.manual_seed(0)
n, d, c = 3600, 768, 21
emb = torch.randn(1, n, d, requires_grad=True)
scores = torch.softmax(torch.randn(1, n, c) * 4, dim=-1)
labels = torch.zeros(1, c); labels[0, [0, 5, 9]] = 1
patch_contrast_loss(emb[:, :64], scores[:, :64], labels)  # warm-up
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')
before = status_kb('VmRSS:')
loss = patch_contrast_loss(emb, scores, labels)
loss.backward()
peak = status_kb('VmHWM:')
print((peak - before) / 1024.0, float(loss))
"""


def pcl_peak_memory_mb() -> tuple:
    out = subprocess.run(
        [sys.executable, '-c',
         PCL_MEMORY_CODE.format(repo=REPO)],
        capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    costs = part_costs(args.repeats)
    ratio = costs['apc_parts'] / costs['backbone']
    print(f'threads: {args.threads}, ViT-S/16 384x384 batch 4, '
          f'median of {args.repeats}')
    print(f"backbone fwd+bwd        : {costs['backbone'] * 1000:8.1f} ms")
    print(f"APC head+pool+MCE+PCL   : {costs['apc_parts'] * 1000:8.1f} ms "
          f'({100 * ratio:.2f}% of the backbone; target <= 10%)')
    print(f"HV-BiLSTM neck (ViT-PCM): {costs['hv_bilstm'] * 1000:8.1f} ms "
          f"({100 * costs['hv_bilstm'] / costs['backbone']:.1f}%)")
    mem, loss = pcl_peak_memory_mb()
    print(f'PCL fwd+bwd at 3600 patches x 768 dims, 21 classes: peak '
          f'+{mem:.0f} MB resident (loss {loss:.4f})')


if __name__ == '__main__':
    main()
