"""The one image-level labels module: rule, COCO mapping, files, cache."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from wsss_mm.datasets import labels as L
from wsss_mm.datasets.converters import coco14, voc_aug


def test_one_rule_for_datasets_and_converters():
    mask = np.array([[0, 3, 255], [15, 3, 0]], np.uint8)
    assert L.labels_from_mask(mask, 21) == [3, 15]
    assert voc_aug.mask_labels(mask, 'm.png') == [3, 15]
    assert L.labels_from_mask(mask, 21, with_background=False) == [0, 3, 15]
    with pytest.raises(ValueError, match=r'bad\.png.*\[99\]'):
        voc_aug.mask_labels(np.array([[99]], np.uint8), 'bad.png')
    # the converters do not define their own rule or mapping any more
    assert not hasattr(coco14, 'mask_labels')
    assert coco14.coco_category_mapping is L.coco_category_mapping


def test_coco_category_mapping_sorted_ids():
    cats = [{'id': 90, 'name': 'toothbrush'}, {'id': 1, 'name': 'person'},
            {'id': 3, 'name': 'car'}]
    to_contiguous, classes = L.coco_category_mapping(cats)
    assert to_contiguous == {1: 1, 3: 2, 90: 3}
    assert classes == ['background', 'person', 'car', 'toothbrush']
    with pytest.raises(ValueError, match='do not fit'):
        L.coco_category_mapping([{'id': i, 'name': str(i)}
                                 for i in range(300)])


def test_label_file_roundtrip_and_validation(tmp_path):
    path = str(tmp_path / 'image_labels.json')
    L.write_label_file({'a': [np.int64(3), 1]}, path)
    assert L.read_label_file(path) == {'a': [3, 1]}
    with open(path, 'w') as f:
        json.dump({'a': ['dog']}, f)
    with pytest.raises(ValueError, match=r"image_labels\.json.*'a'"):
        L.read_label_file(path)
    with pytest.raises(ValueError, match=r"x\.json: image 'b'.*\[21\]"):
        L.check_label_ids({'b': [1, 21]}, 21, 255, 'x.json')


def test_cache_keyed_on_masks_and_written_by_rank_0_only(
        tmp_path, _label_cache, monkeypatch):
    mask = str(tmp_path / 'a.png')
    Image.fromarray(np.full((4, 4), 2, np.uint8)).save(mask)
    args = (['a'], [mask], str(tmp_path / 'list.txt'), 21)
    monkeypatch.setattr(L, '_rank', lambda: 1)
    assert L.derive_labels_cached(*args) == {'a': [2]}
    assert not os.path.exists(_label_cache)  # rank 1 never writes
    monkeypatch.setattr(L, '_rank', lambda: 0)
    assert L.derive_labels_cached(*args) == {'a': [2]}
    assert len(os.listdir(_label_cache)) == 1
    calls = []
    monkeypatch.setattr(L, 'derive_labels',
                        lambda *a, **k: calls.append(a) or {'a': [5]})
    assert L.derive_labels_cached(*args) == {'a': [2]}  # from the cache
    assert calls == []
    st = os.stat(mask)
    os.utime(mask, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert L.derive_labels_cached(*args) == {'a': [5]}  # mtime changed
