"""A tiny in-memory Stable Diffusion pipeline for attention-capture tests."""
import torch

WORDS = ('a', 'photo', 'of', 'dog', 'cat', 'potted', 'plant', 'on', 'the',
         'street', 'grass', 'and', 'in')


def tiny_tokenizer(words=WORDS):
    from transformers import CLIPTokenizer
    chars = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    vocab = {}
    for tok in chars + [c + '</w>' for c in chars]:
        vocab[tok] = len(vocab)
    merges = []
    for w in words:
        pieces = list(w[:-1]) + [w[-1] + '</w>']
        left = pieces[0]
        for right in pieces[1:]:
            if (left, right) not in merges:
                merges.append((left, right))
            left = left + right
            vocab.setdefault(left, len(vocab))
    for special in ('<|startoftext|>', '<|endoftext|>'):
        vocab[special] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab, merges=merges,
        model_max_length=32)


def tiny_unet(cross_dim=32):
    from diffusers import UNet2DConditionModel
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'),
        cross_attention_dim=cross_dim,
        attention_head_dim=4,
        norm_num_groups=16)


def tiny_pipeline():
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=32,
            bos_token_id=len(tok) - 2,
            eos_token_id=len(tok) - 1,
            pad_token_id=len(tok) - 1))
    vae = AutoencoderKL(
        block_out_channels=(16, 16),
        down_block_types=('DownEncoderBlock2D', ) * 2,
        up_block_types=('UpDecoderBlock2D', ) * 2,
        latent_channels=4,
        norm_num_groups=16)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tok,
        unet=tiny_unet(),
        scheduler=DDIMScheduler(steps_offset=1, clip_sample=False),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe
