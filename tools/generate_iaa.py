"""IAA generation: prompts, ControlNet diffusion, online filter, store.

Examples::

    # CPU demo with the tiny random pipeline (see configs/iaa/README.md)
    python tools/generate_iaa.py configs/iaa/generate_demo_cpu.py

    # a real SD 1.5 + Canny ControlNet and an OpenAI-compatible LLM
    python tools/generate_iaa.py configs/iaa/generate_demo_cpu.py \\
        --work-dir work_dirs/iaa_voc \\
        --cfg-options generator.sd_model=models/sd15 \\
            generator.controlnet_model=models/sd15-canny \\
            prompter.type=OpenAIPrompter prompter.base_url=http://... \\
            prompter.model=qwen prompter.api_key_env=MY_KEY_VAR

    # 8 GPUs, each a disjoint shard
    torchrun --nproc_per_node 8 tools/generate_iaa.py CONFIG \\
        --launcher pytorch

The work dir holds ``manifest.jsonl`` and the images; a killed run started
again with the same command resumes.
"""
from wsss_mm.generation.iaa import main

if __name__ == '__main__':
    main()
