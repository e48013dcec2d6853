"""Prompt augmentation (pure functions): synonyms, attributes, scenes,
styles.

A small prompt set (one template per class) is expanded combinatorially:
``template.format(phrase)`` where the phrase is an attribute plus a synonym
of the class name, followed by an optional scene and style (each after a
comma). The result is
deduplicated and sampled with a seeded generator, so the same inputs give
the same prompts on every machine. Each prompt keeps the class phrase it
used, so the token span of the class can be found in it later (the
attention of a synonym is the class's attention).
"""
import random
from typing import Dict, List, Optional, Sequence

#: Synonyms of common class names (PASCAL VOC, Cityscapes, CamVid); a
#: class without an entry uses its own name only.
SYNONYMS: Dict[str, List[str]] = {
    'aeroplane': ['airplane', 'aircraft', 'jet', 'airliner'],
    'bicycle': ['bike', 'cycle', 'mountain bike'],
    'bird': ['bird', 'sparrow', 'parrot', 'seagull'],
    'boat': ['boat', 'ship', 'sailboat', 'yacht'],
    'bottle': ['bottle', 'glass bottle', 'water bottle'],
    'bus': ['bus', 'coach', 'double decker bus'],
    'car': ['car', 'sedan', 'hatchback', 'automobile'],
    'cat': ['cat', 'kitten', 'tabby cat'],
    'chair': ['chair', 'armchair', 'wooden chair'],
    'cow': ['cow', 'cattle', 'calf'],
    'diningtable': ['dining table', 'table', 'kitchen table'],
    'dog': ['dog', 'puppy', 'terrier', 'retriever'],
    'horse': ['horse', 'pony', 'stallion'],
    'motorbike': ['motorbike', 'motorcycle', 'scooter'],
    'person': ['person', 'man', 'woman', 'child', 'pedestrian'],
    'pottedplant': ['potted plant', 'houseplant', 'plant in a pot'],
    'sheep': ['sheep', 'lamb', 'ram'],
    'sofa': ['sofa', 'couch', 'settee'],
    'train': ['train', 'locomotive', 'tram'],
    'tvmonitor': ['tv monitor', 'television', 'computer monitor'],
    'road': ['road', 'street', 'asphalt road'],
    'sidewalk': ['sidewalk', 'pavement', 'footpath'],
    'building': ['building', 'house', 'office building'],
    'pole': ['pole', 'lamp post', 'street pole'],
    'traffic light': ['traffic light', 'traffic signal'],
    'traffic sign': ['traffic sign', 'road sign', 'stop sign'],
    'vegetation': ['vegetation', 'trees', 'bushes'],
    'sky': ['sky', 'cloudy sky', 'blue sky'],
    'rider': ['rider', 'cyclist', 'motorcyclist'],
    'truck': ['truck', 'lorry', 'pickup truck'],
    'motorcycle': ['motorcycle', 'motorbike'],
    'tree': ['tree', 'trees'],
    'signsymbol': ['traffic sign', 'road sign'],
    'fence': ['fence', 'railing'],
    'pedestrian': ['pedestrian', 'person walking'],
    'bicyclist': ['cyclist', 'person on a bicycle'],
}

ATTRIBUTES: List[str] = [
    '', 'a large', 'a small', 'a red', 'a white', 'a black', 'a blue',
    'an old', 'a new', 'a shiny', 'a dirty'
]

SCENES: List[str] = [
    '', 'on a street', 'in a park', 'in a living room', 'on a beach',
    'in a field', 'in the snow', 'at night', 'in the city', 'in a forest',
    'on a road', 'next to a building'
]

STYLES: List[str] = [
    '', 'photo', 'high quality photo', 'realistic', 'DSLR photo',
    'cinematic lighting', '4k'
]

DEFAULT_TEMPLATE = 'a photo of {}'


def _phrase(attribute: str, synonym: str) -> str:
    return f'{attribute} {synonym}'.strip() if attribute else synonym


def class_synonyms(name: str,
                   synonyms: Optional[Dict[str, Sequence[str]]] = None
                   ) -> List[str]:
    """The class name and its synonyms, deduplicated, the name first."""
    table = SYNONYMS if synonyms is None else synonyms
    out = [name.replace('_', ' ')]
    for s in table.get(name, ()):
        if s not in out:
            out.append(s)
    return out


def augment_class_prompts(name: str,
                          num: int,
                          templates: Sequence[str] = (DEFAULT_TEMPLATE, ),
                          synonyms: Optional[Dict[str, Sequence[str]]] = None,
                          attributes: Sequence[str] = ATTRIBUTES,
                          scenes: Sequence[str] = SCENES,
                          styles: Sequence[str] = STYLES,
                          seed: int = 0) -> List[dict]:
    """Up to ``num`` distinct augmented prompts of one class.

    The first prompt is the plain one (first template, class name, no
    attribute, scene or style, if those lists contain ``''``); the others
    are drawn without replacement from all combinations with a generator
    seeded by ``seed`` and the class name.

    Args:
        name (str): Class name (``'_'`` reads as a space).
        num (int): Number of prompts wanted.
        templates (list[str]): Templates with one ``{}`` for the class
            phrase.
        synonyms (dict, optional): Name -> synonyms; default
            :data:`SYNONYMS`.
        attributes, scenes, styles (list[str]): Word lists (``''`` means
            none).
        seed (int): Seed.

    Returns:
        list[dict]: ``{'prompt', 'class_name', 'class_phrase', 'synonym'}``
        records, fewer than ``num`` when the combinations run out.
    """
    for t in templates:
        if t.count('{}') != 1:
            raise ValueError(f'template {t!r} must contain one {{}}')
    syns = class_synonyms(name, synonyms)
    combos = [(t, a, s, sc, st) for t in templates for s in syns
              for a in attributes for sc in scenes for st in styles]
    rng = random.Random(f'{seed}:{name}')
    first, rest = combos[:1], combos[1:]
    rng.shuffle(rest)
    out, seen = [], set()
    for t, a, s, sc, st in first + rest:
        if len(out) >= num:
            break
        phrase = _phrase(a, s)
        text = t.format(phrase)
        if sc:
            text = f'{text}, {sc}'
        if st:
            text = f'{text}, {st}'
        text = ' '.join(text.split())
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        out.append(
            dict(prompt=text, class_name=name, class_phrase=phrase,
                 synonym=s))
    return out
