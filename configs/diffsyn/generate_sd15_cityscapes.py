# Diffusion-synthetic driving scenes: SD 1.5 + the driving LoRA
# (lora_sd15_driving.py), the 19 Cityscapes classes (generated ids 1..19 =
# Cityscapes train ids + 1; the segmenter config maps them back).
#   python tools/generate_diffsyn.py \
#       configs/diffsyn/generate_sd15_cityscapes.py
_base_ = ['./generate_sd15_voc.py']
work_dir = 'work_dirs/diffsyn_sd15_cityscapes'
classes = [
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
    'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky',
    'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
    'bicycle'
]
prompts = dict(
    type='PromptAugmenter',
    templates=['a photo of a {} in a city street, seen from a car'],
    scenes=['', 'on a sunny day', 'on a cloudy day', 'in the evening'],
    seed=0)
generator = dict(
    lora='work_dirs/lora_sd15_driving/lora',
    resolution=(512, 1024),
    mask=dict(self_resolution=(32, 64), resolutions=[(32, 64), (16, 32)]))
