"""Check a config's datasets before a long job.

``python tools/misc/check_dataset.py CONFIG [--cfg-options ...]``: every
image decodes, every mask holds only class ids of the dataset, every
image-level label is valid; prints a summary with counts and exits 1 when
a problem was found (see :mod:`wsss_mm.datasets.check`).
"""
import argparse
import sys

from mmengine.config import DictAction

from wsss_mm.datasets.check import SPLITS, check_dataset, format_report
from wsss_mm.utils import register_all_modules
from wsss_mm.utils.cli import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config, args.cfg_options)
    report = check_dataset(cfg, args.splits)
    print(format_report(report))
    sys.exit(1 if any(r['problems'] for r in report.values()) else 0)


if __name__ == '__main__':
    main()
