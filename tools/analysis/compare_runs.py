"""Compare runs: ``python tools/analysis/compare_runs.py WORK_DIR [...]``.

Prints one Markdown table (one row per result file found under the work
dirs: the protocol columns, mIoU and per-class IoU) and writes a PNG chart.
Rows measured under different protocols carry different letters after
every value (see :mod:`wsss_mm.evaluation.compare`).
"""
import argparse

from wsss_mm.evaluation.compare import compare_runs
from wsss_mm.utils.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dirs', nargs='+',
                        help='folders (searched recursively) or files')
    parser.add_argument('--chart', default='compare_runs.png',
                        help='output PNG (default: compare_runs.png)')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args()
    table, rows = compare_runs(args.work_dirs, chart=args.chart)
    print(table)
    if args.out:
        write_text_atomic(args.out, table)
    print(f'{len(rows)} runs; chart: {args.chart}')


if __name__ == '__main__':
    main()
