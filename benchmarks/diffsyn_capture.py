"""Cost of attention capture: seconds and memory per generated image+mask.

Runs :class:`~wsss_mm.generation.diffusion.DiffSynGenerator` with capture
off (plain sampling, the image only), with cross-attention capture
(DiffuMask's adaptive rule) and with cross + self-attention capture
(Dataset Diffusion's rule), for several numbers of denoising steps. Each
setting runs in a fresh process so that its peak resident memory
(``ru_maxrss``) is its own; the memory held by the capture itself (the
running sums of :class:`~wsss_mm.generation.diffusion.attention.
AttentionStore`) is reported exactly, and must not grow with the steps.

Usage (CPU, tiny random folders written to a temporary folder)::

    python benchmarks/diffsyn_capture.py --steps 4 8 16 32 --images 4

With ``--sd-model DIR`` any SD 1.x diffusers folder is used instead (e.g.
Stable Diffusion 1.5 on a GPU with ``--device cuda --resolution 512``).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

MODES = ('off', 'cross', 'cross+self')


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> dict:
    import torch

    from wsss_mm.generation.diffusion import DiffSynGenerator
    torch.set_num_threads(args.threads)
    side = args.resolution // 8
    self_res = (side // 2, side // 2)  # SD 1.x at 512: (32, 32)
    mask = (dict(rule='adaptive') if args.mode != 'cross+self' else dict(
        rule='self_refined', self_resolution=self_res))
    gen = DiffSynGenerator(
        sd_model=args.sd_model,
        num_inference_steps=args.num_steps,
        guidance_scale=7.5,
        resolution=args.resolution,
        mask=mask,
        device=args.device,
        dtype='auto')
    prompt = 'a photo of a dog on a street'

    def one(seed):
        if args.mode == 'off':
            gen.sample(prompt, seed)
            return 0
        store = gen.new_store()
        from wsss_mm.generation.utils.tokens import class_token_indices
        tokens = class_token_indices(gen.pipe.tokenizer, prompt, {1: 'dog'})
        image = gen.sample(prompt, seed, store)
        import numpy as np
        gen.extractor(store, tokens, (gen.height, gen.width),
                      image=np.asarray(image))
        return store.nbytes()

    one(0)  # warm-up
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss_loaded = _rss_mib()
    t0 = time.perf_counter()
    nbytes = 0
    for i in range(args.images):
        nbytes = one(i + 1)
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / args.images
    out = dict(
        mode=args.mode,
        steps=args.num_steps,
        seconds_per_image=round(sec, 4),
        peak_rss_mib=round(_rss_mib(), 1),
        rss_after_warmup_mib=round(rss_loaded, 1),
        capture_kib=round(nbytes / 1024, 1))
    if args.device.startswith('cuda'):
        out['cuda_peak_mib'] = round(
            torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sd-model', help='SD 1.x diffusers folder (default: '
                   'tiny random folders in a temporary folder)')
    p.add_argument('--steps', type=int, nargs='+', default=[4, 8, 16, 32])
    p.add_argument('--images', type=int, default=4)
    p.add_argument('--resolution', type=int, default=64)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', help='write the rows as JSON here')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--mode', choices=MODES, help=argparse.SUPPRESS)
    p.add_argument('--num-steps', type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    tmp = None
    if args.sd_model is None:
        from wsss_mm.generation.diffusion import make_tiny_diffusion
        tmp = tempfile.mkdtemp(prefix='diffsyn_bench_')
        args.sd_model = make_tiny_diffusion(tmp, controlnet=False)['sd_model']
    rows = []
    for steps in args.steps:
        for mode in MODES:
            cmd = [
                sys.executable, __file__, '--child', '--mode', mode,
                '--num-steps', str(steps), '--sd-model', args.sd_model,
                '--images', str(args.images), '--resolution',
                str(args.resolution), '--device', args.device, '--threads',
                str(args.threads)
            ]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            res = subprocess.run(cmd, capture_output=True, text=True,
                                 env=env)
            if res.returncode:
                sys.exit(res.stderr[-3000:])
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f'steps={steps:3d} {mode:10s} '
                  f'{row["seconds_per_image"]:.3f} s/image  peak RSS '
                  f'{row["peak_rss_mib"]:.0f} MiB  capture '
                  f'{row["capture_kib"]:.1f} KiB', flush=True)
    if args.out:
        from wsss_mm.utils.fileio import dump_json_atomic
        dump_json_atomic(rows, args.out, indent=2)
    if tmp is not None:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)



if __name__ == '__main__':
    main()
