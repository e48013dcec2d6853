# Primary APC config (the README's short name).
_base_ = ['./apc_vit-b16_2xb8-33k_voc12aug-384x384.py']
