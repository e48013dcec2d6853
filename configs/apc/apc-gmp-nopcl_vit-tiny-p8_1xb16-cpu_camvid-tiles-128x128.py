# The GMP baseline of the CamVid-tiles benchmark (ViT-PCM's global max
# pooling, no PCL), same backbone, decoder and budget as the APC config.
_base_ = ['./apc_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py']
model = dict(
    cls_head=dict(
        pooling=dict(_delete_=True, type='GlobalMaxPool'),
        loss_contrast=None))
