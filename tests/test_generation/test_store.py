"""The generation store: format, verification, recovery, merge; registry."""
import json
import os
import os.path as osp
import textwrap

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from wsss_mm.generation import (GenerationStore, read_jsonl, safe_id,
                                sha256_file)
from wsss_mm.generation.store import encode_file
from wsss_mm.generation.utils import check_entry_id, item_seed
from wsss_mm.registry import GENERATORS


def _img(value: int) -> np.ndarray:
    return np.full((4, 5, 3), value, np.uint8)


def test_add_writes_files_and_manifest_line(tmp_path):
    store = GenerationStore(str(tmp_path)).open()
    mask = np.array([[0, 1], [255, 1]], np.uint8)
    rec = store.add('a-0', {'image': _img(7), 'mask': mask},
                    dict(source_id='a', img_labels=np.array([1]),
                         seed=np.int64(5), scores=[np.float32(0.5)]))
    assert rec['files'] == {'image': 'images/a-0.png', 'mask': 'masks/a-0.png'}
    assert rec['img_labels'] == [1] and rec['seed'] == 5
    assert rec['scores'] == [0.5]
    lines = (tmp_path / 'manifest.rank0.jsonl').read_text().splitlines()
    assert [json.loads(x) for x in lines] == [rec]
    img = np.array(Image.open(tmp_path / 'images' / 'a-0.png'))
    assert img.shape == (4, 5, 3) and (img == 7).all()
    assert (np.array(Image.open(tmp_path / 'masks' / 'a-0.png')) ==
            mask).all()
    assert rec['sha256']['mask'] == sha256_file(str(tmp_path / 'masks' /
                                                    'a-0.png'))
    # reserved fields and bad ids are refused
    with pytest.raises(ValueError, match='reserved|written by the store'):
        store.add('a-1', {'image': _img(1)}, dict(files={}))
    with pytest.raises(ValueError, match='invalid entry id'):
        store.add('../x', {'image': _img(1)})


def test_custom_layout_and_file_kinds(tmp_path):
    store = GenerationStore(
        str(tmp_path), layout={'image': 'img/{id}.jpg',
                               'attn': 'attn/{id}.npy',
                               'meta': 'meta/{id}.json'}).open()
    attn = np.arange(6, dtype=np.float32).reshape(2, 3)
    rec = store.add('e', {'image': _img(100), 'attn': attn,
                          'meta': {'k': [1, 2]}, 'caption': b'raw'})
    assert rec['files']['caption'] == 'captions/e.png'  # default template
    assert Image.open(tmp_path / 'img' / 'e.jpg').format == 'JPEG'
    assert (np.load(tmp_path / 'attn' / 'e.npy') == attn).all()
    assert json.loads((tmp_path / 'meta' / 'e.json').read_text()) == {
        'k': [1, 2]}
    with pytest.raises(TypeError, match='cannot write'):
        encode_file(object(), 'x.png')
    with pytest.raises(ValueError, match='relative path'):
        GenerationStore(str(tmp_path), layout={'image': '/abs/{id}.png'})


def test_reopen_verifies_files_and_regenerates_corrupt(tmp_path):
    store = GenerationStore(str(tmp_path)).open()
    for i in range(3):
        store.add(f'e{i}', {'image': _img(i)})
    # corrupt e1, delete e2's file
    (tmp_path / 'images' / 'e1.png').write_bytes(b'not a png')
    os.remove(tmp_path / 'images' / 'e2.png')
    again = GenerationStore(str(tmp_path)).open()
    assert [again.is_done(f'e{i}') for i in range(3)] == [True, False, False]
    # a new record for e1 supersedes the corrupt one
    again.add('e1', {'image': _img(1)})
    third = GenerationStore(str(tmp_path)).open()
    assert third.is_done('e1') and not third.is_done('e2')
    report = third.merge(order=['e2', 'e1', 'e0'])
    assert report['entries'] == 2 and report['dropped'] == 1
    ids = [json.loads(x)['id'] for x in
           (tmp_path / 'manifest.jsonl').read_text().splitlines()]
    assert ids == ['e1', 'e0']
    # 'exists' mode does not read the file content
    cheap = GenerationStore(str(tmp_path), verify='exists').open()
    (tmp_path / 'images' / 'e0.png').write_bytes(b'changed')
    assert cheap.is_done('e0')


def test_torn_last_line_is_dropped_and_shard_repaired(tmp_path):
    store = GenerationStore(str(tmp_path)).open()
    store.add('a', {'image': _img(1)})
    store.add('b', {'image': _img(2)})
    shard = tmp_path / 'manifest.rank0.jsonl'
    text = shard.read_text()
    shard.write_text(text + text.splitlines()[1][:25])  # torn append
    records, torn, bad = read_jsonl(str(shard))
    assert [r['id'] for r in records] == ['a', 'b'] and torn == 1
    assert bad == []
    GenerationStore(str(tmp_path)).open()
    assert shard.read_text() == text  # repaired atomically
    # an unreadable complete line is dropped too
    shard.write_text('{"id": "a"\n' + text)
    records, torn, bad = read_jsonl(str(shard))
    assert bad == [1] and torn == 0 and len(records) == 2


def test_stale_temporaries_and_orphans_are_cleaned(tmp_path):
    store = GenerationStore(str(tmp_path)).open()
    store.add('a', {'image': _img(1)})
    tmp = tmp_path / 'images' / '.b.png.tmp-123-xyz'
    tmp.write_bytes(b'half')
    orphan = tmp_path / 'images' / 'b.png'  # renamed, never appended
    orphan.write_bytes(b'complete but unlisted')
    removed = store.clean_temporaries()
    assert removed == [str(tmp)]
    report = store.merge()
    assert report['orphans_removed'] == 1 and not orphan.exists()
    assert sorted(os.listdir(tmp_path / 'images')) == ['a.png']


def test_merge_reads_all_shards_and_later_records_win(tmp_path):
    r0 = GenerationStore(str(tmp_path), rank=0).open()
    r1 = GenerationStore(str(tmp_path), rank=1).open()
    r0.add('x', {'image': _img(1)}, dict(v=0))
    r1.add('y', {'image': _img(2)}, dict(v=1))
    r1.add('x', {'image': _img(3)}, dict(v=2))  # same id again
    r1.add_skip('z', 'rejected 3 tries', tries=3)
    report = GenerationStore(str(tmp_path)).merge(order=['x', 'y', 'z'])
    assert report == dict(entries=2, dropped=0, orphans_removed=0,
                          skipped=1, path=str(tmp_path / 'manifest.jsonl'))
    recs = [json.loads(x) for x in
            (tmp_path / 'manifest.jsonl').read_text().splitlines()]
    assert [(r['id'], r['v']) for r in recs] == [('x', 2), ('y', 1)]
    skipped = [json.loads(x) for x in
               (tmp_path / 'skipped.jsonl').read_text().splitlines()]
    assert skipped == [dict(id='z', kind='shortfall',
                            reason='rejected 3 tries', tries=3)]
    # a new store sees the merged manifest even without the shards
    for name in ('manifest.rank0.jsonl', 'manifest.rank1.jsonl'):
        os.remove(tmp_path / name)
    fresh = GenerationStore(str(tmp_path)).open()
    assert fresh.is_done('x') and fresh.is_done('y')
    assert fresh.skipped_record('z')['tries'] == 3


def test_ids_and_seeds_are_deterministic():
    assert safe_id('train/a b.jpg', 3) == 'train_a_b.jpg-3'
    assert safe_id('.hidden') == 'hidden'
    long_id = safe_id('x' * 300)
    assert len(long_id) == 160 and check_entry_id(long_id) == long_id
    assert safe_id('x' * 300) != safe_id('x' * 299)
    assert item_seed(0, 'a', 1) == item_seed(0, 'a', 1)
    assert item_seed(0, 'a', 1) != item_seed(1, 'a', 1)
    assert 0 <= item_seed(5, 'b') < 2**31


def test_registry_builds_store_and_plugin_via_custom_imports(
        tmp_path, monkeypatch):
    store = GENERATORS.build(
        dict(type='GenerationStore', root=str(tmp_path / 's'), rank=2))
    assert isinstance(store, GenerationStore)
    assert store.shard_path.endswith('manifest.rank2.jsonl')
    plugin_dir = tmp_path / 'plugin'
    plugin_dir.mkdir()
    (plugin_dir / 'my_gen_plugin.py').write_text(textwrap.dedent("""
        from wsss_mm.registry import GENERATORS

        @GENERATORS.register_module()
        class EchoPrompter:
            def __init__(self, word):
                self.word = word

            def prompts_for_class(self, name):
                return [f'{name} {self.word}']
        """))
    (tmp_path / 'cfg.py').write_text(textwrap.dedent("""
        custom_imports = dict(imports=['my_gen_plugin'],
                              allow_failed_imports=False)
        prompter = dict(type='EchoPrompter', word='on a beach')
        """))
    monkeypatch.syspath_prepend(str(plugin_dir))
    assert 'EchoPrompter' not in GENERATORS.module_dict
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    try:
        prompter = GENERATORS.build(cfg.prompter)
        assert prompter.prompts_for_class('dog') == ['dog on a beach']
        assert osp.basename(
            type(prompter).__module__) == 'my_gen_plugin'
    finally:
        GENERATORS.module_dict.pop('EchoPrompter', None)
