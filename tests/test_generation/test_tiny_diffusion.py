"""Tiny random diffusers folders: written, loaded offline, sampled."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image
from wsss_test_utils import REPO_ROOT

from wsss_mm.generation.diffusion.tiny import (DEFAULT_WORDS, build_bpe_vocab,
                                               build_tiny_tokenizer)


def _load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'misc', 'make_tiny_diffusion.py')
    spec = importlib.util.spec_from_file_location('_make_tiny_diff', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bpe_vocab_words_are_single_tokens():
    tok = build_tiny_tokenizer(words=DEFAULT_WORDS + ('zebra', ))
    for word in set(DEFAULT_WORDS) | {'zebra'}:
        assert tok.tokenize(word) == [word + '</w>'], word
    # an unlisted word splits into pieces that join back to it
    pieces = tok.tokenize('dogs')
    assert len(pieces) > 1
    assert ''.join(pieces) == 'dogs</w>'
    ids = tok('a dog on the street').input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert len(ids) == 2 + 5
    assert tok.decode(ids, skip_special_tokens=True) == 'a dog on the street'
    vocab, merges = build_bpe_vocab(('ab', 'abc'))
    assert 'ab</w>' in vocab and 'abc</w>' in vocab
    assert merges == [('a', 'b</w>'), ('a', 'b'), ('ab', 'c</w>')]


def test_tool_writes_loadable_folders(tiny_diffusion, tmp_path):
    from diffusers import (ControlNetModel, StableDiffusionControlNetPipeline,
                           StableDiffusionPipeline)
    from transformers import CLIPTokenizer

    sd = tiny_diffusion['sd_model']
    for sub in ('unet', 'vae', 'text_encoder', 'tokenizer', 'scheduler'):
        assert osp.isdir(osp.join(sd, sub)), sub
    with open(osp.join(sd, 'model_index.json')) as f:
        index = json.load(f)
    assert index['text_encoder'] == ['transformers', 'CLIPTextModel']
    assert index['tokenizer'] == ['transformers', 'CLIPTokenizer']
    tok = CLIPTokenizer.from_pretrained(
        osp.join(sd, 'tokenizer'), local_files_only=True)
    assert tok.tokenize('person') == ['person</w>']
    assert len(tok) == len(build_tiny_tokenizer())

    controlnet = ControlNetModel.from_pretrained(
        tiny_diffusion['controlnet_model'], local_files_only=True)
    pipe = StableDiffusionControlNetPipeline.from_pretrained(
        sd,
        controlnet=controlnet,
        safety_checker=None,
        local_files_only=True)
    assert pipe.text_encoder.config.num_hidden_layers == 2
    assert pipe.vae_scale_factor == 8
    pipe.set_progress_bar_config(disable=True)

    # cross-attention runs at 2+ resolutions (token counts of attn2 inputs)
    seen = set()
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out: seen.add(args[0].shape[1]))
        for name, m in pipe.unet.named_modules() if name.endswith('attn2')
    ]
    rng = np.random.default_rng(0)
    edges = Image.fromarray(
        (rng.random((64, 64)) > 0.8).astype(np.uint8) * 255).convert('RGB')

    def sample(image, seed=0):
        return pipe(
            'a dog on the street',
            image=image,
            num_inference_steps=2,
            height=64,
            width=64,
            generator=torch.Generator().manual_seed(seed),
            output_type='np').images

    out = sample(edges)
    for h in hooks:
        h.remove()
    assert out.shape == (1, 64, 64, 3)
    assert np.isfinite(out).all()
    assert seen == {8 * 8, 4 * 4}
    np.testing.assert_array_equal(out, sample(edges))
    # the randomised ControlNet makes the condition matter
    blank = Image.new('RGB', (64, 64))
    assert np.abs(out - sample(blank)).max() > 0.01
    # plain text-to-image loads from the same folder
    plain = StableDiffusionPipeline.from_pretrained(
        sd, safety_checker=None, local_files_only=True)
    plain.set_progress_bar_config(disable=True)
    img = plain('a cat', num_inference_steps=2, height=64, width=64,
                output_type='np').images
    assert img.shape == (1, 64, 64, 3)


def test_tool_cli_idempotent_and_seeded(tmp_path, tiny_diffusion):
    from safetensors.torch import load_file
    tool = _load_tool()
    out = str(tmp_path / 'tiny')
    paths = tool.main([out, '--no-controlnet'])
    assert set(paths) == {'sd_model'}
    unet_file = osp.join(paths['sd_model'], 'unet',
                         'diffusion_pytorch_model.safetensors')
    # same seed as the session fixture: the same weights
    ref = load_file(
        osp.join(tiny_diffusion['sd_model'], 'unet',
                 'diffusion_pytorch_model.safetensors'))
    mine = load_file(unet_file)
    assert ref.keys() == mine.keys()
    for k in ref:
        torch.testing.assert_close(ref[k], mine[k], rtol=0, atol=0)
    mtime = os.stat(unet_file).st_mtime_ns
    tool.main([out, '--no-controlnet'])  # complete: nothing rewritten
    assert os.stat(unet_file).st_mtime_ns == mtime
    assert not [n for n in os.listdir(out) if '.tmp-' in n]
    meta = json.load(open(osp.join(out, 'tiny_diffusion.json')))
    assert meta['sd_model'] == 'sd' and meta['seed'] == 0


@pytest.mark.parametrize('key', ['controlnet_model', 'pose_controlnet_model'])
def test_controlnets_differ(tiny_diffusion, key):
    from diffusers import ControlNetModel
    net = ControlNetModel.from_pretrained(
        tiny_diffusion[key], local_files_only=True)
    # zero convolutions were given random weights
    assert net.controlnet_mid_block.weight.abs().sum() > 0
    assert net.config.conditioning_embedding_out_channels == [8, 8, 16, 16]
