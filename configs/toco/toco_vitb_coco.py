# ToCo on COCO 2014 (short name).
_base_ = ['./toco_vit-b16_2xb2-80k_coco14-448x448.py']
