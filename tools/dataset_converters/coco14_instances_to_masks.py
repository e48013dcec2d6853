"""CLI of :mod:`wsss_mm.datasets.converters.coco14` (see its docstring).

Example::

    python tools/dataset_converters/coco14_instances_to_masks.py \\
        --ann ANN.json \\
        --img-dir IMG_DIR \\
        --out data/coco2014
"""
from wsss_mm.datasets.converters.coco14 import main

if __name__ == '__main__':
    main()
