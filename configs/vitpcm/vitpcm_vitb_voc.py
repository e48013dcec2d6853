# Primary ViT-PCM config (short name).
_base_ = ['./vitpcm_vit-b16_2xb8-33k_voc12aug-384x384.py']
