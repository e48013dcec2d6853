"""Result files, their protocol, and compare_runs (hand-checked values)."""
import hashlib
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from wsss_test_utils import REPO_ROOT

from wsss_mm.evaluation.compare import compare_runs
from wsss_mm.evaluation.functional import metrics_from_confusion
from wsss_mm.evaluation.protocol import (build_protocol, metrics_dict,
                                         protocol_label, tta_protocol,
                                         write_result)
from wsss_mm.models.utils.crf import CRF_PRESETS

CLASSES = ['background', 'cat']


def _write(root, name, cm, **protocol):
    base = dict(split='val', source='decoder', image_labels='none',
                tta=None, crf=None, checkpoint=None, config=None)
    base.update(protocol)
    write_result(osp.join(root, name, 'result_val.json'),
                 build_protocol(**base),
                 metrics_dict(metrics_from_confusion(np.asarray(cm)),
                              CLASSES))


def test_metrics_and_protocol_by_hand(tmp_path):
    # gt background: 6 px predicted bg, 2 cat; gt cat: 1 bg, 3 cat
    cm = np.array([[6, 2, 0], [1, 3, 0]])
    m = metrics_dict(metrics_from_confusion(cm), CLASSES)
    # IoU bg = 6 / (6 + 2 + 1) = 66.67, cat = 3 / (3 + 1 + 2) = 50
    assert m['per_class']['background']['IoU'] == 66.67
    assert m['per_class']['cat']['IoU'] == 50.0
    assert m['mIoU'] == 58.33 and m['aAcc'] == 75.0
    ckpt = tmp_path / 'c.pth'
    torch.save({'state_dict': {}, 'meta': {'iter': 12}}, str(ckpt))
    p = build_protocol(split='val', source='patch_classifier',
                       image_labels='gt', tta=None, crf=CRF_PRESETS['toco'],
                       checkpoint=str(ckpt), config=None)
    assert p['oracle'] is True and p['iteration'] == 12
    assert p['checkpoint_sha256'] == hashlib.sha256(
        ckpt.read_bytes()).hexdigest()
    assert 'ORACLE' in protocol_label(p)
    assert not build_protocol(split='train', source='decoder',
                              image_labels='gt', tta=None, crf=None,
                              checkpoint=None, config=None)['oracle']
    with pytest.raises(ValueError, match='image_labels'):
        build_protocol(split='val', source='decoder', image_labels='yes',
                       tta=None, crf=None, checkpoint=None, config=None)
    tta = tta_protocol([dict(type='LoadWSSSImageFromFile'), dict(
        type='TestTimeAug', transforms=[
            [dict(type='Resize', scale_factor=0.5),
             dict(type='Resize', scale_factor=1.0)],
            [dict(type='RandomFlip', prob=0.),
             dict(type='RandomFlip', prob=1.)]])])
    assert tta == dict(scales=[0.5, 1.0], flips=[False, True])


def test_compare_runs_marks_protocols(tmp_path):
    root = str(tmp_path)
    _write(root, 'run1', [[6, 2, 0], [1, 3, 0]])  # mIoU 58.33
    _write(root, 'run2', [[8, 0, 0], [0, 4, 0]])  # 100
    table, rows = compare_runs([root], chart=osp.join(root, 'c.png'))
    # one protocol: plain values
    assert '| run1/result_val | A | val | decoder | none | no | no | n/a ' \
           '| n/a | 58.33 | 66.67 | 50.00 |' in table
    assert '| 100.00 | 100.00 | 100.00 |' in table
    assert 'not comparable' not in table

    _write(root, 'run3', [[7, 1, 0], [0, 4, 0]], crf=CRF_PRESETS['apc'])
    _write(root, 'run4', [[7, 1, 0], [0, 4, 0]], image_labels='gt')
    table, rows = compare_runs([root], chart=osp.join(root, 'c.png'))
    lines = table.splitlines()
    row3 = next(x for x in lines if x.startswith('| run3'))
    row4 = next(x for x in lines if x.startswith('| run4'))
    row1 = next(x for x in lines if x.startswith('| run1'))
    # bg 7 / 8 = 87.50, cat 4 / 5 = 80, mIoU 83.75; other protocols marked
    assert row3.endswith('| 83.75 (B) | 87.50 (B) | 80.00 (B) |')
    assert '| vitpcm |' in row3
    assert '| gt ORACLE |' in row4 and row4.endswith('83.75 (C) | '
                                                    '87.50 (C) | 80.00 (C) |')
    assert row1.endswith('| 58.33 (A) | 66.67 (A) | 50.00 (A) |')
    assert '- **B**: split val, source decoder, image labels none, TTA no, ' \
           'CRF vitpcm (differs from A in: crf)' in table
    assert '(differs from A in: image_labels, oracle)' in table
    assert 'not comparable' in table
    with Image.open(osp.join(root, 'c.png')) as img:
        assert img.size[0] > 300 and img.size[1] > 100


def test_compare_runs_tool(tmp_path):
    _write(str(tmp_path), 'run1', [[6, 2, 0], [1, 3, 0]])
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    chart = str(tmp_path / 'chart.png')
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/compare_runs.py', str(tmp_path),
         '--chart', chart, '--out', str(tmp_path / 't.md')],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '| 58.33 | 66.67 | 50.00 |' in proc.stdout
    assert open(tmp_path / 't.md').read() in proc.stdout
    assert osp.getsize(chart) > 1000
    empty = subprocess.run(
        [sys.executable, 'tools/analysis/compare_runs.py',
         str(tmp_path / 'none')], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=120)
    assert empty.returncode != 0 and 'no result files' in empty.stderr
