# Primary FSR config (the README's short name).
_base_ = ['./fsr_vit-b16_4xb2-20k_voc12aug-448x448.py']
