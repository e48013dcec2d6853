# LoRA adaptation of a (tiny, random) Stable Diffusion UNet on a folder of
# unlabelled images, on CPU in seconds. Write the tiny folders first:
#   python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
# then
#   python tools/train.py configs/diffsyn/lora_demo_cpu.py \
#       --cfg-options model.sd_model=work_dirs/tiny_diffusion/sd \
#       train_dataloader.dataset.data_root=PATH/TO/IMAGES
# The adapters end up in WORK_DIR/lora/pytorch_lora_weights.safetensors
# (diffusers format: pipeline.load_lora_weights(WORK_DIR/lora)).
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(
    imports=['wsss_mm', 'wsss_mm.generation.diffusion.lora'],
    allow_failed_imports=False)
resolution = 64
max_iters = 20
model = dict(
    type='StableDiffusionLoRA',
    sd_model='work_dirs/tiny_diffusion/sd',
    prompt='a photo of a street',
    rank=4)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(resolution, resolution),
        ratio_range=(1.0, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(resolution, resolution)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset',
        data_root='data/camvid/images',
        pipeline=train_pipeline))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-2),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10,
        max_keep_ckpts=2,
        save_last=True))
custom_hooks = [dict(type='SaveLoRAHook', out_dir='lora')]
