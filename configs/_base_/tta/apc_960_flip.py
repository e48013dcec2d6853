# APC tests like ViT-PCM (paper: "we resize the image to 960x960").
_base_ = ['./vitpcm_960_flip.py']
