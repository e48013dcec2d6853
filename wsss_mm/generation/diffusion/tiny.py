"""Tiny randomly initialised diffusers folders for tests and CPU demos.

No Stable Diffusion, ControlNet or CLIP weights are reachable offline, so
every generation test and CPU demo runs on folders written here: the
Stable Diffusion 1.x diffusers layout (``unet/``, ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``, ``model_index.json``)
and ControlNet folders, built from configs in code with random weights
(nothing shipped, nothing downloaded). They load with the ordinary
``from_pretrained(..., local_files_only=True)`` calls and a 2-step 64x64
sample takes well under a second on one CPU core.

The layout mirrors the real models where code may rely on it:

* the VAE downsamples by 8 (four blocks), like SD 1.x, so latents are
  ``resolution / 8``;
* the UNet has cross-attention at two resolutions in its down and up paths
  and in its mid block (attention capture has several resolutions to
  aggregate), ``cross_attention_dim`` equal to the text encoder's width;
* the tokenizer is a real byte-level BPE ``CLIPTokenizer`` with a small
  vocabulary in which common class names and prompt words are single
  tokens, the rest split into sub-word pieces, exactly as CLIP does;
* ControlNets are built from the UNet's config (``ControlNetModel.from_unet``);
  their zero-initialised output convolutions get small random weights and
  their condition embedding a variance-preserving initialisation, so that
  the condition image actually changes the sample.

Every folder is saved into a temporary sibling and renamed into place, so
an interrupted run never leaves a half-written model folder behind.
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch

#: Words that get one token each (besides every byte-level character).
DEFAULT_WORDS = (
    'a', 'an', 'the', 'of', 'in', 'on', 'at', 'with', 'and', 'photo',
    'picture', 'image', 'background', 'scene', 'street', 'road', 'sky',
    'city', 'park', 'beach', 'room', 'field', 'forest', 'snow', 'night',
    'day', 'sunny', 'rainy', 'indoor', 'outdoor', 'high', 'quality',
    'realistic', 'aeroplane', 'airplane', 'bicycle', 'bird',
    'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'table', 'dog',
    'horse', 'motorbike', 'person', 'plant', 'sheep', 'sofa', 'train',
    'monitor', 'tv', 'circle', 'square', 'triangle', 'shape', 'red',
    'green', 'blue', 'building', 'tree', 'pedestrian', 'sign', 'pole',
    'fence', 'sidewalk', 'potted', 'dining')

BOS = '<|startoftext|>'
EOS = '<|endoftext|>'


def _bytes_to_unicode() -> Dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode character table."""
    bs = (list(range(ord('!'), ord('~') + 1)) +
          list(range(ord('¡'), ord('¬') + 1)) +
          list(range(ord('®'), ord('ÿ') + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _apply_merges(pieces: List[str],
                  ranks: Dict[Tuple[str, str], int]) -> List[str]:
    """Byte-pair encoding of one word: merge the best-ranked pair until
    no known merge applies."""
    while len(pieces) > 1:
        pairs = [(ranks.get(p, None), i)
                 for i, p in enumerate(zip(pieces[:-1], pieces[1:]))]
        pairs = [(r, i) for r, i in pairs if r is not None]
        if not pairs:
            break
        _, i = min(pairs)
        pieces = pieces[:i] + [pieces[i] + pieces[i + 1]] + pieces[i + 2:]
    return pieces


def build_bpe_vocab(words: Iterable[str] = DEFAULT_WORDS
                    ) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """Build a small CLIP-style byte-level BPE vocabulary and merges.

    The base vocabulary holds every byte character, with and without the
    end-of-word suffix ``</w>``, so any text tokenises. Each listed word
    becomes a single ``word</w>`` token; other words split into pieces.

    Args:
        words (Iterable[str]): Lower-case ASCII words to make single tokens.

    Returns:
        tuple[dict, list[tuple]]: ``vocab`` (token -> id, special tokens
        last) and ``merges`` (``(left, right)`` pairs in rank order).
    """
    byte_chars = list(_bytes_to_unicode().values())
    tokens = byte_chars + [c + '</w>' for c in byte_chars]
    known = set(tokens)
    merges: List[Tuple[str, str]] = []
    ranks: Dict[Tuple[str, str], int] = {}
    for word in dict.fromkeys(words):
        if not word or not word.isascii():
            continue
        # Tokenise with the merges so far, then join the remaining pieces
        # left to right with new (lowest-priority) merges: earlier words
        # stay single tokens and so does this one.
        pieces = _apply_merges(list(word[:-1]) + [word[-1] + '</w>'], ranks)
        left = pieces[0]
        for right in pieces[1:]:
            ranks[(left, right)] = len(merges)
            merges.append((left, right))
            left = left + right
            if left not in known:
                known.add(left)
                tokens.append(left)
    tokens += [BOS, EOS]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def build_tiny_tokenizer(words: Iterable[str] = DEFAULT_WORDS,
                         model_max_length: int = 77):
    """A real ``CLIPTokenizer`` over :func:`build_bpe_vocab`."""
    from transformers import CLIPTokenizer

    vocab, merges = build_bpe_vocab(words)
    return CLIPTokenizer(
        vocab=vocab, merges=merges, model_max_length=model_max_length)


def _init_controlnet(controlnet: torch.nn.Module, std: float,
                     cond_gain: float, generator: torch.Generator) -> None:
    """Make the condition image matter in a random ControlNet.

    The zero-initialised output convolutions get small random weights, and
    the condition embedding gets a variance-preserving (He) initialisation
    without biases plus an output convolution of gain ``cond_gain``: with
    PyTorch's default initialisation its seven convolutions shrink the
    condition signal until the output is nearly the same for any image.
    """
    import math
    emb = controlnet.controlnet_cond_embedding
    modules = list(controlnet.controlnet_down_blocks) + [
        controlnet.controlnet_mid_block
    ]
    with torch.no_grad():
        for m in modules:
            m.weight.copy_(
                torch.randn(m.weight.shape, generator=generator) * std)
        for m in [emb.conv_in] + list(emb.blocks):
            fan_in = m.weight[0].numel()
            m.weight.copy_(
                torch.randn(m.weight.shape, generator=generator) *
                math.sqrt(2. / fan_in))
            m.bias.zero_()
        fan_in = emb.conv_out.weight[0].numel()
        emb.conv_out.weight.copy_(
            torch.randn(emb.conv_out.weight.shape, generator=generator) *
            cond_gain / math.sqrt(fan_in))
        emb.conv_out.bias.zero_()


def _save_folder(out: str, save_fn) -> str:
    """Run ``save_fn(staging_dir)`` and rename the folder to ``out``."""
    out = osp.abspath(out)
    parent = osp.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(
        prefix=f'.{osp.basename(out)}.tmp-{os.getpid()}-', dir=parent)
    try:
        save_fn(staging)
        os.chmod(staging, 0o755)
        if osp.isdir(out):
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def build_tiny_sd_components(seed: int = 0,
                             block_out_channels: Sequence[int] = (32, 64),
                             cross_attention_dim: int = 32,
                             text_layers: int = 2,
                             words: Iterable[str] = DEFAULT_WORDS) -> dict:
    """Build the random components of a tiny SD 1.x pipeline in memory.

    Args:
        seed (int): Seed of every random weight.
        block_out_channels (Sequence[int]): UNet widths; every level has
            cross-attention, so there are ``len(block_out_channels)``
            attention resolutions (at least 2).
        cross_attention_dim (int): Text embedding width.
        text_layers (int): CLIP text encoder layers.
        words (Iterable[str]): Words that are single tokens.

    Returns:
        dict: ``unet``, ``vae``, ``text_encoder``, ``tokenizer``,
        ``scheduler`` ready for ``StableDiffusionPipeline(**components)``.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    if len(block_out_channels) < 2:
        raise ValueError('a tiny UNet needs at least 2 levels to have '
                         'cross-attention at 2 resolutions, got '
                         f'{block_out_channels}')
    tokenizer = build_tiny_tokenizer(words)
    n = len(block_out_channels)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=tuple(block_out_channels),
        layers_per_block=1,
        down_block_types=('CrossAttnDownBlock2D', ) * n,
        up_block_types=('CrossAttnUpBlock2D', ) * n,
        mid_block_type='UNetMidBlock2DCrossAttn',
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=2,
        norm_num_groups=8)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=('DownEncoderBlock2D', ) * 4,
        up_block_types=('UpDecoderBlock2D', ) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=64)
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=cross_attention_dim,
            intermediate_size=2 * cross_attention_dim,
            num_hidden_layers=text_layers,
            num_attention_heads=2,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            projection_dim=cross_attention_dim))
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule='scaled_linear',
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1)
    return dict(
        unet=unet.eval(),
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        scheduler=scheduler)


def build_tiny_controlnet(unet,
                          seed: int = 0,
                          zero_conv_std: float = 0.2,
                          cond_gain: float = 8.0):
    """A random ControlNet matching ``unet`` (condition downsampled by 8)
    whose output depends on the condition image (see
    :func:`_init_controlnet`)."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    controlnet = ControlNetModel.from_unet(
        unet,
        conditioning_embedding_out_channels=(8, 8, 16, 16),
        load_weights_from_unet=False)
    gen = torch.Generator().manual_seed(seed + 1)
    _init_controlnet(controlnet, zero_conv_std, cond_gain, gen)
    return controlnet.eval()


def make_tiny_diffusion(out_dir: str,
                        seed: int = 0,
                        controlnet: bool = True,
                        pose_controlnet: bool = False,
                        block_out_channels: Sequence[int] = (32, 64),
                        cross_attention_dim: int = 32,
                        text_layers: int = 2,
                        words: Optional[Iterable[str]] = None,
                        overwrite: bool = False) -> Dict[str, str]:
    """Write tiny random diffusers folders under ``out_dir``.

    Folders: ``out_dir/sd`` (Stable Diffusion 1.x layout, loadable with
    ``StableDiffusionPipeline.from_pretrained``), ``out_dir/controlnet_canny``
    (if ``controlnet``) and ``out_dir/controlnet_openpose`` (if
    ``pose_controlnet``; same architecture, other seed), and
    ``out_dir/tiny_diffusion.json`` describing what was written.

    Args:
        out_dir (str): Parent folder (created).
        seed (int): Seed of all weights; the same seed writes the same
            weights.
        controlnet (bool): Write a Canny ControlNet folder.
        pose_controlnet (bool): Write a pose ControlNet folder.
        block_out_channels (Sequence[int]): UNet widths (>= 2 levels).
        cross_attention_dim (int): Text embedding width.
        text_layers (int): CLIP text encoder layers.
        words (Iterable[str], optional): Extra single-token words (e.g.
            the class names of a dataset) added to the defaults.
        overwrite (bool): Rewrite folders that already exist. Without it
            existing folders are kept (the call is idempotent).

    Returns:
        dict[str, str]: ``sd_model``, and ``controlnet_model`` /
        ``pose_controlnet_model`` when written: absolute folder paths.
    """
    from diffusers import StableDiffusionPipeline

    from wsss_mm.utils.fileio import dump_json_atomic

    out_dir = osp.abspath(out_dir)
    all_words = tuple(DEFAULT_WORDS) + tuple(
        w.lower() for w in (words or ()))
    paths = dict(sd_model=osp.join(out_dir, 'sd'))
    if controlnet:
        paths['controlnet_model'] = osp.join(out_dir, 'controlnet_canny')
    if pose_controlnet:
        paths['pose_controlnet_model'] = osp.join(out_dir,
                                                  'controlnet_openpose')
    todo = {k: p for k, p in paths.items()
            if overwrite or not osp.isfile(osp.join(p, 'config.json' if
                                                    'controlnet' in k else
                                                    'model_index.json'))}
    if not todo:
        return paths
    components = build_tiny_sd_components(
        seed=seed,
        block_out_channels=block_out_channels,
        cross_attention_dim=cross_attention_dim,
        text_layers=text_layers,
        words=all_words)
    if 'sd_model' in todo:
        pipe = StableDiffusionPipeline(
            **components,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False)
        _save_folder(todo['sd_model'], pipe.save_pretrained)
    for i, key in enumerate(('controlnet_model', 'pose_controlnet_model')):
        if key in todo:
            net = build_tiny_controlnet(
                components['unet'], seed=seed + 10 + 10 * i)
            _save_folder(todo[key], net.save_pretrained)
    dump_json_atomic(
        dict(
            seed=seed,
            block_out_channels=list(block_out_channels),
            cross_attention_dim=cross_attention_dim,
            text_layers=text_layers,
            vae_scale_factor=8,
            note='random weights for tests and CPU demos; images are noise',
            **{k: osp.relpath(v, out_dir)
               for k, v in paths.items()}),
        osp.join(out_dir, 'tiny_diffusion.json'),
        indent=2)
    return paths

