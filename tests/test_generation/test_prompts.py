"""The prompt agent: answer parsing, offline backend, and the OpenAI
backend against a real chat-completions server on loopback."""
import logging
import os
import secrets

import pytest
from generation_test_utils import LoopbackChatServer, closed_port_url
from mmengine.config import Config
from mmengine.logging import MMLogger

from wsss_mm.generation.prompts import (LLMFailure, OfflinePrompter,
                                        compose_prompt, load_prompt_bank,
                                        save_prompt_bank)
from wsss_mm.generation.utils.llm_answers import (MalformedAnswer,
                                                  parse_prompts, parse_scores,
                                                  select_prompts)
from wsss_mm.registry import GENERATORS

KEY_ENV = 'WSSS_TEST_LLM_KEY'


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------
def test_parse_prompts_json_fenced_and_numbered():
    assert parse_prompts('{"prompts": ["a", " b ", "A", ""]}') == ['a', 'b']
    fenced = 'Sure!\n```json\n{"prompts": ["x y"]}\n```\nEnjoy.'
    assert parse_prompts(fenced) == ['x y']
    assert parse_prompts('Here:\n1. "on a beach"\n2) in a park\n') == [
        'on a beach', 'in a park'
    ]
    for bad in ('{"prompts": ["unterminated', "I'm sorry, I can't.", '',
                '{"prompts": "not a list"}', '{"other": ["a"]}',
                '{"prompts": ["", "  "]}', None):
        with pytest.raises(MalformedAnswer):
            parse_prompts(bad)


def test_parse_scores_counts_and_range():
    assert parse_scores('{"scores": [0.2, 1, 0]}', 3) == [0.2, 1.0, 0.0]
    assert parse_scores('1. beach - 0.8\n2. moon: 0.1', 2) == [0.8, 0.1]
    for bad, n in (('{"scores": [0.2]}', 2), ('{"scores": [1.5]}', 1),
                   ('{"scores": ["high"]}', 1), ('1. no score here', 1),
                   ('{"scores": [true]}', 1), ('no list', 1), ('', 1)):
        with pytest.raises(MalformedAnswer):
            parse_scores(bad, n)


def test_select_prompts_keeps_best_n_over_threshold():
    got = select_prompts(['a', 'b', 'c', 'd'], [0.5, 0.9, 0.7, 0.9], 0.6, 2)
    assert got == [dict(prompt='b', score=0.9), dict(prompt='d', score=0.9)]
    assert select_prompts(['a'], [0.1], 0.5, 3) == []


def test_compose_prompt():
    assert compose_prompt(['dog'],
                          'in a park') == 'a photo of a dog, in a park'
    assert compose_prompt(['cat', 'dog', 'person'], 'x', '{classes}|'
                          '{background}') == 'a cat, a dog and a person|x'


# ---------------------------------------------------------------------------
# offline backend
# ---------------------------------------------------------------------------
def test_offline_prompter_refines_deterministically():
    cfg = dict(type='OfflinePrompter', num_candidates=8, num_prompts=4,
               threshold=0.7, seed=3)
    a = GENERATORS.build(cfg).build_bank(['boat', 'cow', 'circle'])
    b = GENERATORS.build(cfg).build_bank(['boat', 'cow', 'circle'])
    assert a == b
    c = GENERATORS.build(dict(cfg, seed=4)).build_bank(['boat'])
    assert c['boat'] != a['boat']
    water = ('beach', 'harbour', 'lake', 'river', 'sea')
    for item in a['boat']:
        assert item['score'] >= 0.7 and any(w in item['prompt']
                                            for w in water)
    assert len(a['boat']) == 4 and len(a['cow']) == 4
    # self-refinement: without rewrites fewer boat prompts pass
    no_rewrite = OfflinePrompter(num_candidates=8, num_prompts=4,
                                 threshold=0.7, seed=3, rewrite=False)
    kept = no_rewrite.prompts_for_class('boat')
    p = OfflinePrompter(num_candidates=8, num_prompts=4, threshold=0.7,
                        seed=3)
    p.prompts_for_class('boat')
    assert p.stats['boat']['rewritten'] > 0
    assert len(kept) < 4 and all(k['round'] == 0 for k in kept)
    assert any(k['round'] == 1 for k in a['boat'])
    # unknown classes get neutral scores: every candidate passes
    assert len(a['circle']) == 4


# ---------------------------------------------------------------------------
# OpenAI-compatible backend on a real loopback server
# ---------------------------------------------------------------------------
@pytest.fixture
def api_key(monkeypatch):
    key = 'sk-test-' + secrets.token_hex(16)
    monkeypatch.setenv(KEY_ENV, key)
    return key


@pytest.fixture
def logs():
    """Every log record (DEBUG and up) of mmengine, openai and httpx."""
    records = []

    class Collect(logging.Handler):

        def emit(self, record):
            records.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    loggers = [MMLogger.get_current_instance(), logging.getLogger('openai'),
               logging.getLogger('httpx'), logging.getLogger('httpcore')]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield records
    for lg, level in zip(loggers, levels):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _prompter(url, cache_dir, **kw):
    cfg = dict(type='OpenAIPrompter', model='tiny-llm', base_url=url,
               api_key_env=KEY_ENV, cache_dir=str(cache_dir),
               num_candidates=6, num_prompts=3, threshold=0.5, timeout=5.,
               max_retries=3, backoff=0.01)
    cfg.update(kw)
    return GENERATORS.build(cfg)


def _files_containing(root, needle: str):
    hits = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                if needle.encode() in f.read():
                    hits.append(path)
    return hits


def test_openai_prompter_self_refines_caches_and_keeps_key_secret(
        tmp_path, api_key, logs):
    cache = tmp_path / 'cache'
    with LoopbackChatServer('normal') as server:
        prompter = _prompter(server.url, cache)
        bank = prompter.build_bank(['dog'])
        # generate 6 (2 'on the moon' score 0.1) -> rewrite those 2 ->
        # rescore: generate, score, rewrite, score
        assert len(server.requests) == 4
        assert server.auth == ['Bearer ' + api_key] * 4
        assert [r['model'] for r in server.requests] == ['tiny-llm'] * 4
        assert bank['dog'] == [
            dict(prompt=f'dog scene {i} by a lake', score=0.9, round=0,
                 source='llm') for i in (0, 1, 3)
        ]
        st = prompter.stats['dog']
        assert (st['generated'], st['rewritten'], st['above_threshold'],
                st['kept']) == (6, 2, 6, 3)
        assert (st['initial_above'], st['requests'],
                st['failed_tries']) == (4, 4, 0)
        # a re-run answers from the cache: no request at all
        again = _prompter(server.url, cache)
        assert again.build_bank(['dog']) == bank
        assert len(server.requests) == 4 and again.requests_sent == 0
        assert again.cache.hits == 4
    save_prompt_bank(str(tmp_path / 'prompts.json'), bank,
                     dict(stats=prompter.stats))
    assert load_prompt_bank(str(tmp_path / 'prompts.json')) == bank
    cfg = Config(dict(prompter=dict(type='OpenAIPrompter', model='m',
                                    api_key_env=KEY_ENV)))
    cfg.dump(str(tmp_path / 'cfg_dump.py'))
    assert KEY_ENV in (tmp_path / 'cfg_dump.py').read_text()
    assert _files_containing(tmp_path, api_key) == []
    assert len(os.listdir(cache)) > 0
    assert logs and not [r for r in logs if api_key in r]
    assert api_key not in repr(prompter)
    with pytest.raises(TypeError, match='not picklable'):
        import pickle
        pickle.dumps(prompter)


def test_numbered_list_answers_are_accepted(tmp_path, api_key):
    with LoopbackChatServer('numbered') as server:
        bank = _prompter(server.url, tmp_path / 'c').build_bank(['cat'])
    assert [b['prompt'] for b in bank['cat']] == [
        'cat scene 0 by a lake', 'cat scene 1 by a lake',
        'cat scene 3 by a lake'
    ]


def test_errors_and_bad_answers_are_logged_and_retried(tmp_path, api_key,
                                                       logs):
    with LoopbackChatServer('normal') as server:
        server.script = ['500', 'malformed', 'refusing', 'empty', '401']
        prompter = _prompter(server.url, tmp_path / 'c', max_retries=5)
        bank = prompter.build_bank(['dog'])
    assert len(bank['dog']) == 3 and bank['dog'][0]['source'] == 'llm'
    assert len(server.requests) == 5 + 4  # five failures, then 4 requests
    assert prompter.stats['dog']['failed_tries'] == 5
    assert prompter.stats['dog']['requests'] == 9
    text = '\n'.join(logs)
    for reason in ('try 1/6 failed (InternalServerError',
                   'try 2/6 failed (malformed answer',
                   'try 3/6 failed (malformed answer: no JSON object',
                   'try 4/6 failed (malformed answer: empty answer',
                   'try 5/6 failed (AuthenticationError'):
        assert reason in text
    assert 'Incorrect API key provided: ***' in text
    assert not [r for r in logs if api_key in r or api_key[8:24] in r]
    assert _files_containing(tmp_path, api_key[8:24]) == []


@pytest.mark.parametrize('where', ['slow', 'down'])
def test_unreachable_llm_falls_back_or_fails_clearly(tmp_path, api_key,
                                                     logs, where):
    server = LoopbackChatServer('slow', delay=1.0)
    with server:
        url = server.url if where == 'slow' else closed_port_url()
        prompter = _prompter(url, tmp_path / 'c', timeout=0.25,
                             max_retries=1)
        bank = prompter.build_bank(['boat'])
        expected = OfflinePrompter(num_candidates=6, num_prompts=3,
                                   threshold=0.5).prompts_for_class('boat')
        assert [b['prompt'] for b in bank['boat']] == [
            e['prompt'] for e in expected
        ]
        assert all(b['source'] == 'fallback' for b in bank['boat'])
        err = prompter.stats['boat']['llm_error']
        assert ('APITimeoutError' if where == 'slow' else
                'APIConnectionError') in err
        strict = _prompter(url, tmp_path / 'c2', timeout=0.25,
                           max_retries=0, on_failure='raise')
        with pytest.raises(LLMFailure, match='after 1 tries') as info:
            strict.prompts_for_class('boat')
        assert api_key not in str(info.value)
    assert len(server.requests) == (3 if where == 'slow' else 0)
    assert 'using the fallback OfflinePrompter' in '\n'.join(logs)
    assert not [r for r in logs if api_key in r]


def test_missing_key_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(KeyError, match=KEY_ENV):
        _prompter('http://127.0.0.1:9/v1', tmp_path)
    # a local server without a key
    p = _prompter('http://127.0.0.1:9/v1', tmp_path, api_key_env=None)
    assert p.client.api_key == 'not-needed'


def test_shared_prompt_bank_is_built_once_and_reused(tmp_path):
    from wsss_mm.generation.prompts import shared_prompt_bank
    path = str(tmp_path / 'prompts.json')
    prompter = OfflinePrompter(num_candidates=4, num_prompts=2,
                               threshold=0.5)
    bank = shared_prompt_bank(prompter, ['cow', 'boat'], path)
    assert list(bank) == ['cow', 'boat'] and len(bank['cow']) == 2
    assert load_prompt_bank(path) == bank

    class Refuses(OfflinePrompter):

        def build_bank(self, class_names):
            raise AssertionError('the saved bank must be reused')

    assert shared_prompt_bank(Refuses(), ['cow', 'boat'], path) == bank
    other = shared_prompt_bank(prompter, ['sofa'], path)  # other classes
    assert list(other) == ['sofa'] and list(load_prompt_bank(path)) == [
        'sofa'
    ]
