"""Diffusion-synthetic data: prompts, Stable Diffusion, attention masks.

Examples::

    # CPU demo with the tiny random pipeline (configs/diffsyn/README.md)
    python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
    python tools/generate_diffsyn.py configs/diffsyn/generate_demo_cpu.py

    # a real SD 1.5 (and LoRA adapters trained with configs/diffsyn/lora_*)
    python tools/generate_diffsyn.py configs/diffsyn/generate_sd15_voc.py \\
        --work-dir work_dirs/diffsyn_voc \\
        --cfg-options generator.sd_model=models/sd15 \\
            generator.lora=work_dirs/lora_driving/lora

    # 8 GPUs, each a disjoint shard
    torchrun --nproc_per_node 8 tools/generate_diffsyn.py CONFIG \\
        --launcher pytorch

The work dir holds ``manifest.jsonl``, ``images/``, ``masks/`` (class ids
of the config's class list, 0 background, 255 ignore), ``confidence/`` and
``classes.json``; a killed run started again with the same command resumes.
"""
from wsss_mm.generation.diffsyn import main

if __name__ == '__main__':
    main()
