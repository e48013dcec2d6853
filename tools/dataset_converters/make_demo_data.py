"""CLI of :mod:`wsss_mm.datasets.converters.demo_shapes` (see its docstring).

``python tools/dataset_converters/make_demo_data.py --out data/demo_shapes``
"""
from wsss_mm.datasets.converters.demo_shapes import main

if __name__ == '__main__':
    main()
