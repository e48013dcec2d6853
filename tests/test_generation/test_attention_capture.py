"""Attention capture on a tiny diffusers UNet."""
import inspect

import pytest
import torch

from wsss_mm.generation.diffusion.attention import (PROCESSOR_PARAMS,
                                                    AttentionCaptureProcessor,
                                                    AttentionStore,
                                                    capture_attention)
from wsss_mm.generation.utils.attention_maps import (class_cross_maps,
                                                     conditional_head_mean,
                                                     query_resolution)
from wsss_mm.generation.utils.tokens import (class_token_indices,
                                             find_subsequence,
                                             token_span_indices)


@pytest.fixture(scope='module')
def pipe(tiny_diffusion):
    from diffusers import StableDiffusionPipeline
    p = StableDiffusionPipeline.from_pretrained(
        tiny_diffusion['sd_model'], local_files_only=True)
    p.set_progress_bar_config(disable=True)
    return p


def _run(pipe, steps=2, guidance=5.0, prompt='a photo of a dog'):
    return pipe(
        prompt,
        num_inference_steps=steps,
        guidance_scale=guidance,
        height=64,
        width=64,
        output_type='np',
        generator=torch.Generator().manual_seed(0)).images


def _blocks_per_resolution(unet):
    """Transformer blocks per query grid, from the UNet's own config."""
    cfg = unet.config
    side = 64 // 8  # 64 px images, the VAE downsamples by 8
    out = {}
    for i, t in enumerate(cfg.down_block_types):
        if t.startswith('CrossAttn'):
            out[side >> i] = out.get(side >> i, 0) + cfg.layers_per_block
    n = len(cfg.down_block_types)
    deepest = side >> (n - 1)
    out[deepest] = out.get(deepest, 0) + 1  # mid block
    for i, t in enumerate(cfg.up_block_types):
        if t.startswith('CrossAttn'):
            r = side >> (n - 1 - i)
            out[r] = out.get(r, 0) + cfg.layers_per_block + 1
    return {(r, r): c for r, c in out.items()}


def test_processor_api_of_pinned_diffusers(pipe):
    """Fails when a diffusers upgrade changes what capture relies on."""
    from diffusers.models.attention_processor import (Attention,
                                                      AttnProcessor2_0)
    params = list(inspect.signature(AttnProcessor2_0.__call__).parameters)
    assert params[1:1 + len(PROCESSOR_PARAMS)] == list(PROCESSOR_PARAMS)
    for name in ('get_attention_scores', 'head_to_batch_dim',
                 'batch_to_head_dim', 'prepare_attention_mask'):
        assert callable(getattr(Attention, name))
    names = list(pipe.unet.attn_processors)
    n_blocks = sum(_blocks_per_resolution(pipe.unet).values())
    assert sum(n.endswith('attn2.processor') for n in names) == n_blocks
    assert sum(n.endswith('attn1.processor') for n in names) == n_blocks


def test_capture_shapes_sums_counts(pipe):
    store = AttentionStore(self_resolutions=[(4, 4)])
    with capture_attention(pipe.unet, store) as names:
        _run(pipe, steps=2)
    expected = _blocks_per_resolution(pipe.unet)
    # self-attention processors go on every attn1 (other grids pass through)
    assert len(names) == 2 * sum(expected.values())
    assert store.step == 1  # two UNet calls: steps 0 and 1
    # every cross-attention layer, both steps
    assert store.counts('cross') == {r: 2 * c for r, c in expected.items()}
    assert store.counts('self') == {(4, 4): 2 * expected[(4, 4)]}
    cross = store.maps('cross')
    T = pipe.tokenizer.model_max_length
    assert cross[(8, 8)].shape == (1, 8, 8, T)
    assert cross[(4, 4)].shape == (1, 4, 4, T)
    for m in cross.values():  # softmax over keys, averaged: still sums to 1
        torch.testing.assert_close(m.sum(-1), torch.ones(m.shape[:-1]))
    s = store.maps('self')[(4, 4)]
    assert s.shape == (1, 16, 16)
    torch.testing.assert_close(s.sum(-1), torch.ones(1, 16))


def test_capture_keeps_outputs_and_restores(pipe):
    before = dict(pipe.unet.attn_processors)
    ref = _run(pipe)
    store = AttentionStore(self_resolutions=[(8, 8)])
    with capture_attention(pipe.unet, store):
        procs = pipe.unet.attn_processors
        captured = [n for n, p in procs.items()
                    if isinstance(p, AttentionCaptureProcessor)]
        # uncaptured layers keep their original (fused) processor object
        for n, p in procs.items():
            if n not in captured:
                assert p is before[n]
        got = _run(pipe)
    # explicit attention reproduces the fused one
    assert abs(got - ref).max() < 1e-4
    after = pipe.unet.attn_processors
    assert all(after[n] is before[n] for n in before)

    with pytest.raises(RuntimeError, match='boom'):
        with capture_attention(pipe.unet, AttentionStore()):
            assert any(
                isinstance(p, AttentionCaptureProcessor)
                for p in pipe.unet.attn_processors.values())
            raise RuntimeError('boom')
    after = pipe.unet.attn_processors
    assert all(after[n] is before[n] for n in before)
    assert not pipe.unet._forward_pre_hooks


def test_memory_independent_of_steps_and_conditional_half(pipe):
    sizes = []
    for steps in (2, 5):
        store = AttentionStore(self_resolutions=[(4, 4)])
        with capture_attention(pipe.unet, store):
            _run(pipe, steps=steps)
        assert store.step == steps - 1
        sizes.append(store.nbytes())
    assert sizes[0] == sizes[1]
    # guidance 1: no CFG batch, every sample is conditional
    store = AttentionStore(conditional_half=False)
    with capture_attention(pipe.unet, store):
        _run(pipe, guidance=1.0)
    assert store.maps('cross')[(8, 8)].shape[0] == 1
    # only the chosen steps
    store = AttentionStore(steps=[1])
    with capture_attention(pipe.unet, store):
        _run(pipe, steps=3)
    assert store.counts('cross')[(8, 8)] == 3


def test_conditional_head_mean():
    heads, q, k = 2, 3, 4
    p = torch.zeros(2 * heads, q, k)
    p[0:2] = 5.0  # unconditional sample, both heads
    p[2, :, 0] = 1.0  # conditional, head 0
    p[3, :, 1] = 1.0  # conditional, head 1
    m = conditional_head_mean(p, heads, conditional_half=True)
    assert m.shape == (1, q, k)
    torch.testing.assert_close(m[0, :, :2], torch.full((q, 2), 0.5))
    assert m[0, :, 2:].abs().sum() == 0
    assert conditional_head_mean(p, heads, False).shape == (2, q, k)
    with pytest.raises(ValueError):
        conditional_head_mean(torch.zeros(6, q, k), heads, True)


def test_query_resolution():
    assert query_resolution(64) == (8, 8)
    assert query_resolution(8 * 12, latent_hw=(32, 48)) == (8, 12)
    with pytest.raises(ValueError):
        query_resolution(50)


def test_token_spans_multi_token_and_templates(pipe):
    tok = pipe.tokenizer
    assert find_subsequence([1, 2, 3, 2, 3], [2, 3]) == [1, 3]
    assert token_span_indices([9, 1, 2, 7, 1, 2], [1, 2]) == [1, 2, 4, 5]
    prompt = 'a photo of a potted plant and a zebra on the street'
    idx = class_token_indices(
        tok, prompt, {1: 'potted plant', 2: 'zebra', 3: ['dog', 'street']})
    ids = tok(prompt).input_ids
    words = [tok.decode([i]).strip() for i in ids]
    assert [words[i] for i in idx[1]] == ['potted', 'plant']
    # 'zebra' is not in the tiny vocabulary: several sub-word tokens
    assert len(idx[2]) > 1 and ''.join(words[i] for i in idx[2]) == 'zebra'
    assert [words[i] for i in idx[3]] == ['street']  # one alias present
    with pytest.raises(ValueError, match='cat'):
        class_token_indices(tok, prompt, {4: 'cat'})
    assert class_token_indices(tok, prompt, {4: 'cat'}, strict=False) == {
        4: []
    }


def test_class_cross_maps_known_answer():
    # two resolutions; class 1 on token 2 (left half), class 2 on tokens
    # 3 and 4 (right half)
    T = 6
    cross = {}
    for r in (2, 4):
        a = torch.zeros(1, r, r, T)
        a[0, :, :r // 2, 2] = 1
        a[0, :, r // 2:, 3] = 0.5
        a[0, :, r // 2:, 4] = 1.0
        cross[(r, r)] = a
    ids, maps = class_cross_maps(cross, {1: [2], 2: [3, 4]}, (8, 8))
    assert ids == [1, 2]
    assert maps.shape == (1, 2, 8, 8)
    assert maps.max() == 1 and maps.min() == 0
    assert (maps[0, 0, :, 0] == 1).all() and (maps[0, 0, :, -1] == 0).all()
    assert (maps[0, 1, :, -1] == 1).all() and (maps[0, 1, :, 0] == 0).all()
