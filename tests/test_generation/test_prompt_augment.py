"""Prompt augmentation: distinct, seeded, class phrase kept."""
import pytest

from wsss_mm.generation.prompt_augment import PromptAugmenter
from wsss_mm.generation.utils.prompt_aug import (augment_class_prompts,
                                                 class_synonyms)
from wsss_mm.registry import GENERATORS


def test_augment_is_seeded_distinct_and_keeps_phrase():
    a = augment_class_prompts('dog', 20, seed=1)
    assert a == augment_class_prompts('dog', 20, seed=1)
    assert a != augment_class_prompts('dog', 20, seed=2)
    assert len(a) == 20
    assert len({r['prompt'].lower() for r in a}) == 20
    assert a[0]['prompt'] == 'a photo of dog'  # the plain prompt first
    for r in a:
        assert r['synonym'] in class_synonyms('dog')
        assert r['class_phrase'] in r['prompt']
        assert r['class_phrase'].endswith(r['synonym'])
    assert {r['synonym'] for r in a} > {'dog'}  # synonyms are used


def test_augment_runs_out_and_dedups():
    # 2 templates x 1 name x 2 attributes ('' and 'a big') x 1 x 1, but the
    # templates give the same text for '' -> 3 distinct prompts
    out = augment_class_prompts(
        'thing', 10, templates=['{}', '{} '], synonyms={},
        attributes=['', 'a big'], scenes=[''], styles=[''])
    assert sorted(r['prompt'] for r in out) == ['a big thing', 'thing']
    with pytest.raises(ValueError, match='one'):
        augment_class_prompts('x', 1, templates=['no slot'])
    assert class_synonyms('potted_plant') == ['potted plant']


def test_registered_augmenter_with_a_scene_source():

    class Scenes:

        def prompts_for_class(self, name):
            return [dict(prompt=f'beside a {name} shop', score=0.9)] * 2

    aug = GENERATORS.build(
        dict(
            type='PromptAugmenter', attributes=[''], styles=[''],
            scenes=[''], synonyms={}, seed=0))
    assert aug(['cat'], 5) == {
        'cat': [
            dict(prompt='a photo of cat', class_name='cat',
                 class_phrase='cat', synonym='cat')
        ]
    }
    aug = PromptAugmenter(attributes=[''], styles=[''], scenes=[''],
                          synonyms={}, scene_prompter=Scenes())
    got = [r['prompt'] for r in aug(['cat'], 5)['cat']]
    assert sorted(got) == [
        'a photo of cat', 'a photo of cat, beside a cat shop'
    ]
    # the IAA agent's offline backend as the scene source
    aug = PromptAugmenter(
        attributes=[''], styles=[''], scenes=[''], synonyms={},
        scene_prompter=dict(type='OfflinePrompter', num_prompts=3, seed=0))
    got = aug(['dog'], 10)['dog']
    assert len(got) == 4 and got[0]['prompt'] == 'a photo of dog'
    assert all(r['prompt'].startswith('a photo of dog, ') for r in got[1:])
