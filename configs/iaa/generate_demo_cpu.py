# IAA generation for the demo data on CPU (tools/generate_iaa.py).
# Prepare (see configs/iaa/README.md):
#   python tools/dataset_converters/make_demo_data.py --out data/demo_shapes
#   python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
#   python tools/train.py configs/demo/wsss_demo_cpu.py   # the filter
# The tiny diffusion folders hold random weights: the images are noise (the
# prompter, generator, filter and store are real). Point generator.sd_model
# and generator.controlnet_model at real Stable Diffusion 1.5 + Canny
# ControlNet folders for real images.
default_scope = 'wsss_mm'
work_dir = 'work_dirs/iaa_demo_cpu'
seed = 0
num_per_image = 2  # accepted images per source image

# The source dataset: any registered wsss_mm dataset (no pipeline needed).
source = dict(
    type='DemoShapesDataset',
    data_root='data/demo_shapes',
    ann_file='ImageSets/Segmentation/train.txt',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    label_file='image_labels.json')

# Background prompts per class with self-refinement. OpenAIPrompter talks to
# any OpenAI-compatible endpoint: prompter.type=OpenAIPrompter
# prompter.base_url=... prompter.model=... prompter.api_key_env=VAR_NAME
prompter = dict(type='OfflinePrompter', seed=seed)

generator = dict(
    type='ControlNetGenerator',
    sd_model='work_dirs/tiny_diffusion/sd',
    controlnet_model='work_dirs/tiny_diffusion/controlnet_canny',
    pose_controlnet_model=None,
    pose_estimator=None,
    num_inference_steps=6,
    guidance_scale=3.0,
    resolution=64,
    dtype='auto',
    device='auto')

# The online filter: the demo's APC model scores each image; every label of
# the source image must reach `threshold`, else a new seed and prompt are
# tried, up to `max_tries`. `early_check` stops hopeless samples half way.
filter = dict(
    type='ClassifierFilter',
    config='configs/demo/wsss_demo_cpu.py',
    checkpoint='work_dirs/wsss_demo_cpu/iter_800.pth',
    threshold=0.3,
    max_tries=3,
    early_check=dict(at=0.5, threshold=0.15),
    device='auto')
log_interval = 10
