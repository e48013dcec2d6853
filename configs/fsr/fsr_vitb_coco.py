# FSR on COCO 2014 (short name).
_base_ = ['./fsr_vit-b16_4xb2-80k_coco14-448x448.py']
