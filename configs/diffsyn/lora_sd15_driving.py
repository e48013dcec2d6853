# LoRA adaptation of Stable Diffusion 1.5 to driving scenes from unlabelled
# images (e.g. Cityscapes leftImg8bit/train, no labels used).
#   huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5 \
#       --local-dir models/stable-diffusion-v1-5
#   tools/dist_train.sh configs/diffsyn/lora_sd15_driving.py 2 \
#       --cfg-options model.sd_model=models/stable-diffusion-v1-5 \
#       train_dataloader.dataset.data_root=data/cityscapes/leftImg8bit/train
# Adapters: work_dirs/lora_sd15_driving/lora/pytorch_lora_weights.safetensors
# (diffusers format; generator.lora=work_dirs/lora_sd15_driving/lora).
_base_ = ['./lora_demo_cpu.py']
work_dir = 'work_dirs/lora_sd15_driving'
resolution = 512
max_iters = 4000
model = dict(
    sd_model='models/stable-diffusion-v1-5',
    prompt='a photo of a city street seen from a car',
    rank=8,
    noise_offset=0.05)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(resolution, resolution),
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(resolution, resolution)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        data_root='data/cityscapes/leftImg8bit/train',
        pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1000, max_keep_ckpts=2))
custom_hooks = [dict(type='SaveLoRAHook', out_dir='lora', interval=1000)]
