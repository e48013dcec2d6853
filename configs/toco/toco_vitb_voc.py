# Primary ToCo config (the README's short name).
_base_ = ['./toco_vit-b16_2xb2-20k_voc12aug-448x448.py']
