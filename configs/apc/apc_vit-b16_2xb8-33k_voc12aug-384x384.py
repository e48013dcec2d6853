# APC on PASCAL VOC 2012 train_aug: ViT-B/16 (ImageNet-21k pretrained, 1k
# fine-tuned, 384 px) + HV-BiLSTM + adaptive-K pooling (K_max 6, gap 0.1) +
# PCL (threshold 0.85, weight 0.02) + SegFormer MLP decoder on patch-to-pixel
# labels (weight 0.01); 384x384 training, 960x960 test; 2 GPUs x 8 images,
# Adam, 50 epochs (paper Sec. 4.1). `tools/dist_train.sh THIS_CONFIG 2`.
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_adam.py',
    '../_base_/tta/apc_960_flip.py'
]
