# CPU twin of the driving example: the tiny SD folders adapted with the
# LoRA of lora_demo_cpu.py (trained on the CamVid images, no labels), the
# 11 CamVid classes (generated ids 1..11 = CamVid ids + 1).
#   python tools/train.py configs/diffsyn/lora_demo_cpu.py \
#       --work-dir work_dirs/lora_demo_cpu \
#       --cfg-options train_dataloader.dataset.data_root=data/camvid/images
#   python tools/generate_diffsyn.py \
#       configs/diffsyn/generate_driving_demo_cpu.py
_base_ = ['./generate_demo_cpu.py']
work_dir = 'work_dirs/diffsyn_driving_demo_cpu'
classes = [
    'sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign symbol',
    'fence', 'car', 'pedestrian', 'bicyclist'
]
prompts_per_class = 1
images_per_prompt = 2
prompts = dict(
    type='PromptAugmenter',
    templates=['a photo of a {} on a street'],
    scenes=['', 'on a sunny day'],
    seed=0)
generator = dict(lora='work_dirs/lora_demo_cpu/lora')
