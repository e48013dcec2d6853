"""Compare result files of several runs in one table and one chart.

Rows measured under different protocols are never placed in one column
without a mark: every distinct protocol gets a letter (A, B, ...), shown in
the ``protocol`` column and, when the table holds more than one protocol,
after every metric value; a legend under the table spells each protocol
out and names the fields in which it differs from protocol A.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from wsss_mm.evaluation.protocol import PROTOCOL_KEYS, find_results

Row = Dict[str, Any]


def _crf_name(crf: Optional[dict]) -> str:
    if not crf:
        return 'no'
    from wsss_mm.models.utils.crf import CRF_PRESETS
    for name in ('vitpcm', 'toco'):  # apc = vitpcm, fsr = toco
        if dict(crf) == CRF_PRESETS[name]:
            return name
    return ','.join(f'{k}={v}' for k, v in sorted(crf.items()))


def _tta_name(tta: Optional[dict]) -> str:
    if not tta:
        return 'no'
    scales = ' '.join(
        'x'.join(str(v) for v in s) if isinstance(s, (list, tuple)) else
        str(s) for s in tta.get('scales', []))
    flips = 'flip' if any(tta.get('flips', [])) else 'no flip'
    return f'{scales}; {flips}'


def protocol_key(protocol: Dict[str, Any]) -> Tuple:
    """The fields that make two measurements comparable."""
    return tuple(
        json.dumps(protocol.get(k), sort_keys=True) for k in PROTOCOL_KEYS)


def load_rows(paths: Sequence[str]) -> List[Row]:
    """One row per result file (``name`` is the file's folder and stem)."""
    rows = []
    for path in paths:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        stem = osp.splitext(osp.basename(path))[0]
        name = osp.join(osp.basename(osp.dirname(osp.abspath(path))), stem)
        rows.append(dict(name=name, path=path, protocol=data['protocol'],
                         metrics=data['metrics']))
    return rows


def assign_protocols(rows: List[Row]) -> List[Tuple]:
    """Give every row ``row['mark']`` (A, B, ...); returns the keys in
    letter order (first seen first)."""
    keys: List[Tuple] = []
    for row in rows:
        key = protocol_key(row['protocol'])
        if key not in keys:
            keys.append(key)
        row['mark'] = chr(ord('A') + keys.index(key))
    return keys


def describe(protocol: Dict[str, Any]) -> str:
    """One protocol in words (the legend)."""
    labels = protocol['image_labels']
    if protocol.get('oracle'):
        labels = f'{labels} (ORACLE)'
    return (f"split {protocol['split']}, "
            f"source {protocol['prediction_source']}, "
            f'image labels {labels}, TTA {_tta_name(protocol.get("tta"))}, '
            f'CRF {_crf_name(protocol.get("crf"))}')


def markdown_table(rows: List[Row],
                   classes: Optional[Sequence[str]] = None) -> str:
    """The comparison table (Markdown) with its protocol legend."""
    keys = assign_protocols(rows)
    several = len(keys) > 1
    if classes is None:
        classes = []
        for row in rows:
            for c in row['metrics'].get('per_class', {}):
                if c not in classes:
                    classes.append(c)

    def value(row: Row, v: Optional[float]) -> str:
        text = 'n/a' if v is None else f'{v:.2f}'
        return f"{text} ({row['mark']})" if several else text

    head = ['run', 'protocol', 'split', 'source', 'image labels', 'TTA',
            'CRF', 'iter', 'checkpoint', 'mIoU'] + list(classes)
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join(['---'] * 9 + ['---:'] * (1 + len(classes))) +
             '|']
    for row in rows:
        p = row['protocol']
        labels = p['image_labels'] + (' ORACLE' if p.get('oracle') else '')
        sha = (p.get('checkpoint_sha256') or '')[:8] or 'n/a'
        it = p.get('iteration')
        per_class = row['metrics'].get('per_class', {})
        cells = [row['name'], row['mark'], p['split'],
                 p['prediction_source'], labels, _tta_name(p.get('tta')),
                 _crf_name(p.get('crf')), 'n/a' if it is None else str(it),
                 sha, value(row, row['metrics'].get('mIoU'))]
        cells += [value(row, per_class.get(c, {}).get('IoU'))
                  for c in classes]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
    first = next(r['protocol'] for r in rows if r['mark'] == 'A')
    for row in rows:
        letter = row['mark']
        if any(line.startswith(f'- **{letter}**') for line in lines):
            continue
        text = f"- **{letter}**: {describe(row['protocol'])}"
        if letter != 'A':
            diff = [k for k in PROTOCOL_KEYS
                    if row['protocol'].get(k) != first.get(k)]
            text += f" (differs from A in: {', '.join(diff)})"
        lines.append(text)
    if several:
        lines.append('')
        lines.append('Values marked with different letters were measured '
                     'under different protocols and are not comparable.')
    return '\n'.join(lines) + '\n'


def save_chart(rows: List[Row], path: str,
               classes: Optional[Sequence[str]] = None) -> str:
    """Per-class IoU of every run, one bar series per run (PNG)."""
    from wsss_mm.visualization.report import save_iou_bar_chart
    if 'mark' not in rows[0]:
        assign_protocols(rows)
    if classes is None:
        classes = list(rows[0]['metrics'].get('per_class', {}))
    series = {}
    for row in rows:
        per_class = row['metrics'].get('per_class', {})
        series[f"{row['name']} [{row['mark']}]"] = np.array([
            np.nan if per_class.get(c, {}).get('IoU') is None else
            per_class[c]['IoU'] / 100 for c in classes
        ])
    return save_iou_bar_chart(
        path, series, classes,
        title='per-class IoU; [letter] = protocol, see the table legend')


def compare_runs(work_dirs: Sequence[str],
                 chart: Optional[str] = None) -> Tuple[str, List[Row]]:
    """Table (Markdown) of every result file under ``work_dirs``, and the
    chart at ``chart`` if given."""
    paths = find_results(work_dirs)
    if not paths:
        raise FileNotFoundError(
            'no result files (JSON with a "protocol") under ' +
            ', '.join(work_dirs) + ': run tools/test.py or '
            'tools/make_pseudo_labels.py first')
    rows = load_rows(paths)
    table = markdown_table(rows)
    if chart:
        save_chart(rows, chart)
    return table, rows
