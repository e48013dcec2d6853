# Diffusion-synthetic PASCAL VOC: Stable Diffusion 1.5 text-to-image with
# Dataset Diffusion's self-attention-refined cross-attention masks, prompt
# augmentation, 20 VOC classes (ids 1..20 = VOC's, 0 background, 255 the
# uncertain band). Get SD 1.5 once (nothing is downloaded at run time):
#   huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5 \
#       --local-dir models/stable-diffusion-v1-5
#   torchrun --nproc_per_node 8 tools/generate_diffsyn.py \
#       configs/diffsyn/generate_sd15_voc.py --launcher pytorch
_base_ = ['./generate_demo_cpu.py']
work_dir = 'work_dirs/diffsyn_sd15_voc'
classes = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'
]
prompts_per_class = 100
images_per_prompt = 10
generator = dict(
    sd_model='models/stable-diffusion-v1-5',
    lora=None,
    num_inference_steps=50,
    guidance_scale=7.5,
    resolution=512,
    # SD 1.x at 512 px: cross-attention at 64/32/16/8, self-attention
    # refinement at 32x32 (Dataset Diffusion)
    mask=dict(
        _delete_=True,
        rule='self_refined',
        self_resolution=(32, 32),
        resolutions=[(32, 32), (16, 16)],
        fg_thr=0.6,
        ignore_thr=0.5),
    dtype='auto')
log_interval = 30
