# Diffusion-synthetic generation on CPU with the tiny random SD folders:
#   python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
#   python tools/generate_diffsyn.py configs/diffsyn/generate_demo_cpu.py
# Images are noise (random weights); the run exercises the whole path:
# prompt augmentation, sampling with attention capture, masks, the store.
custom_imports = dict(imports=['wsss_mm'], allow_failed_imports=False)
default_scope = 'wsss_mm'
work_dir = 'work_dirs/diffsyn_demo_cpu'
seed = 0
# class ids: position + 1 (0 = background, 255 = ignore)
classes = ['circle', 'square', 'triangle']  # the demo shapes' classes
prompts_per_class = 2
images_per_prompt = 2
prompts = dict(type='PromptAugmenter', seed=seed)
generator = dict(
    type='DiffSynGenerator',
    sd_model='work_dirs/tiny_diffusion/sd',
    lora=None,
    num_inference_steps=4,
    guidance_scale=5.0,
    resolution=64,
    # Dataset Diffusion's rule; the tiny UNet's grids at 64 px are 8 and 4
    # (SD 1.x at 512 px: self_resolution=(32, 32))
    mask=dict(
        rule='self_refined',
        self_resolution=(8, 8),
        fg_thr=0.6,
        ignore_thr=0.5),
    dtype='float32',
    device='auto')
log_interval = 2
