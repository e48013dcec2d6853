# Short name of the COCO APC config.
_base_ = ['./apc_vit-b16_2xb8-257k_coco14-384x384.py']
