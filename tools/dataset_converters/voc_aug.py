"""CLI of :mod:`wsss_mm.datasets.converters.voc_aug` (see its docstring).

Example::

    python tools/dataset_converters/voc_aug.py data/VOCdevkit/VOC2012 \\
        --sbd data/benchmark_RELEASE \\
        --nproc 8
"""
from wsss_mm.datasets.converters.voc_aug import main

if __name__ == '__main__':
    main()
