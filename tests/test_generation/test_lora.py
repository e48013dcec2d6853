"""LoRA adaptation of the tiny SD UNet with the real Runner and torchrun."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from wsss_test_utils import free_port

CONFIG = 'configs/diffsyn/lora_demo_cpu.py'


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('unlabelled')
    rng = np.random.RandomState(0)
    for i in range(4):
        sub = root / ('a' if i < 2 else 'b')
        sub.mkdir(exist_ok=True)
        img = (rng.rand(72, 90, 3) * 255).astype(np.uint8)
        Image.fromarray(img).save(sub / f'{i}.jpg')
    (root / 'notes.txt').write_text('not an image')
    return str(root)


def _cfg(repo_root, sd, data_root, work_dir, iters=3):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.merge_from_dict({
        'model.sd_model': sd,
        'train_dataloader.dataset.data_root': data_root,
        'train_cfg.max_iters': iters,
        'default_hooks.logger.interval': 1,
    })
    cfg.work_dir = work_dir
    return cfg


def test_image_folder_dataset(image_folder, tmp_path):
    from wsss_mm.datasets import ImageFolderDataset
    ds = ImageFolderDataset(data_root=image_folder, pipeline=[])
    assert [osp.relpath(d['img_path'], image_folder)
            for d in ds] == ['a/0.jpg', 'a/1.jpg', 'b/2.jpg', 'b/3.jpg']
    with pytest.raises(FileNotFoundError, match='no image'):
        ImageFolderDataset(data_root=str(tmp_path), pipeline=[])
    with pytest.raises(FileNotFoundError, match='data_root'):
        ImageFolderDataset(data_root=str(tmp_path / 'nope'), pipeline=[])


def test_lora_trains_only_adapters_and_reloads(tiny_diffusion, image_folder,
                                               repo_root, tmp_path):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    from wsss_mm.utils.cli import build_runner
    sd = tiny_diffusion['sd_model']
    cfg = _cfg(repo_root, sd, image_folder, str(tmp_path / 'work'))
    runner = build_runner(cfg)
    model = runner.model
    names = model.trainable_parameter_names()
    assert names and all('lora_' in n for n in names)
    assert all(not p.requires_grad for n, p in model.named_parameters()
               if 'lora_' not in n)
    runner.train()

    base = UNet2DConditionModel.from_pretrained(
        sd, subfolder='unet', local_files_only=True).state_dict()
    trained = {
        k.replace('.base_layer', ''): v
        for k, v in model.unet.state_dict().items() if 'lora_' not in k
    }
    assert trained.keys() == base.keys()
    for k, v in base.items():  # frozen weights did not move
        assert torch.equal(trained[k], v), k
    lora_b = [v for k, v in model.unet.state_dict().items()
              if 'lora_B' in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # init: zero

    # checkpoints hold the adapters only
    ckpt = torch.load(str(tmp_path / 'work' / 'iter_3.pth'),
                      map_location='cpu', weights_only=False)
    assert sorted(ckpt['state_dict']) == sorted(names)

    folder = tmp_path / 'work' / 'lora'
    assert (folder / 'pytorch_lora_weights.safetensors').is_file()
    pipe = StableDiffusionPipeline.from_pretrained(sd, local_files_only=True)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 8, 8, generator=g)
    emb = torch.randn(1, 77, pipe.text_encoder.config.hidden_size,
                      generator=g)
    t = torch.tensor([500])
    with torch.no_grad():
        plain = pipe.unet(x, t, emb).sample
        pipe.load_lora_weights(str(folder))
        reloaded = pipe.unet(x, t, emb).sample
        model.eval()
        ours = model.unet(x, t, emb).sample
    torch.testing.assert_close(reloaded, ours, rtol=1e-5, atol=1e-6)
    assert (reloaded - plain).abs().max() > 1e-5  # the adapters do act

    # the generator loads them from its config (generator.lora)
    from wsss_mm.registry import GENERATORS
    gen_cfg = dict(type='DiffSynGenerator', sd_model=sd,
                   num_inference_steps=2, resolution=64, device='cpu')
    with_lora = GENERATORS.build(dict(gen_cfg, lora=str(folder)))
    assert with_lora.model_ids['lora'] == 'lora'
    with torch.no_grad():
        got = with_lora.pipe.unet(x, t, emb).sample
    torch.testing.assert_close(got, ours, rtol=1e-5, atol=1e-6)
    with pytest.raises(FileNotFoundError, match='generator.lora'):
        GENERATORS.build(dict(gen_cfg, lora=str(tmp_path)))


def test_lora_missing_sd_folder(tmp_path):
    from wsss_mm.generation.diffusion.lora import StableDiffusionLoRA
    with pytest.raises(FileNotFoundError,
                       match='model.sd_model.*huggingface-cli'):
        StableDiffusionLoRA(sd_model=str(tmp_path / 'absent'))


def test_lora_two_processes_and_resume(tiny_diffusion, image_folder,
                                       repo_root, tmp_path):
    work = str(tmp_path / 'dist')
    common = [
        '--work-dir', work, '--cfg-options',
        f'model.sd_model={tiny_diffusion["sd_model"]}',
        f'train_dataloader.dataset.data_root={image_folder}',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2'
    ]

    def run(iters):
        env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable,
                   OMP_NUM_THREADS='1')
        p = subprocess.run(
            ['bash', 'tools/dist_train.sh', CONFIG, '2'] + common +
            [f'train_cfg.max_iters={iters}'],
            cwd=repo_root, env=env, capture_output=True, text=True,
            timeout=600)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-5000:]
        return out

    out = run(2)
    assert 'world_size=2' in out and 'backend=gloo' in out
    lora = osp.join(work, 'lora', 'pytorch_lora_weights.safetensors')
    first = open(lora, 'rb').read()
    assert osp.isfile(osp.join(work, 'iter_2.pth'))

    # resume the 2-process run's checkpoint (in this process: cheaper)
    from wsss_mm.utils.cli import build_runner
    cfg = _cfg(repo_root, tiny_diffusion['sd_model'], image_folder, work,
               iters=4)
    cfg.resume = True
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 4
    assert osp.isfile(osp.join(work, 'iter_4.pth'))
    assert open(lora, 'rb').read() != first  # trained further, rewritten
