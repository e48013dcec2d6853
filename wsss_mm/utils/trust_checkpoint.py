"""Mark a checkpoint trusted: ``python -m wsss_mm.utils.trust_checkpoint F``.

Only for files whose origin you trust: a trusted file is unpickled fully.
"""
import argparse

from wsss_mm.utils.compat import write_trust_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('checkpoint', nargs='+')
    for path in parser.parse_args().checkpoint:
        print(f'wrote {write_trust_record(path)}')


if __name__ == '__main__':
    main()
