"""Dataset converters (CLIs in ``tools/dataset_converters/``).

- :mod:`.voc_aug`: PASCAL VOC 2012 + SBD -> ``train_aug``.
- :mod:`.coco14`: COCO instances JSON -> class-id masks.
- :mod:`.demo_shapes`: the synthetic demo dataset.

Image-level labels are computed by :mod:`wsss_mm.datasets.labels`, the same
rule the datasets use.
"""
