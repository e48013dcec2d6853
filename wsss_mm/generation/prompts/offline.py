"""The offline prompt backend: templates and word lists, no network."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from wsss_mm.registry import GENERATORS
from ..utils.ids import item_seed
from .base import BasePrompter
from .word_lists import CLASS_TAGS, LIGHTING, SCENES


def offline_score(scene_tags: Sequence[str],
                  class_tags: Optional[Sequence[str]],
                  jitter: float = 0.) -> float:
    """Plausibility of a scene for a class from shared tags.

    No shared tag: 0.2; one: 0.75; two: 0.85; three or more: 0.95; a class
    without tags (unknown): 0.75. ``jitter`` is added and the result
    clipped to [0, 1].
    """
    if class_tags is None:
        base = 0.75
    else:
        shared = len(set(scene_tags) & set(class_tags))
        base = (0.2, 0.75, 0.85)[shared] if shared < 3 else 0.95
    return float(min(1., max(0., base + jitter)))


@GENERATORS.register_module()
class OfflinePrompter(BasePrompter):
    """Background prompts from templates and word lists (the default).

    Deterministic for a given ``seed`` and runs anywhere: candidates are
    ``template.format(scene=..., light=...)`` for random scenes (plausible
    or not for the class), scores come from the scene/class tag tables of
    :mod:`.word_lists` (plus a seeded jitter of at most ``jitter``), and a
    rewrite swaps the scene of a prompt for the most plausible unused one.

    Args:
        template (str): Prompt template with ``{scene}`` and ``{light}``.
        scenes (dict, optional): Scene phrase -> tags; replaces the
            default table.
        lighting (list[str], optional): Light phrases; replaces the
            default list.
        class_tags (dict, optional): Class name -> tags; merged over the
            default table (names are matched in lower case).
        jitter (float): Maximum absolute score noise. Defaults to 0.05.
        **kwargs: :class:`BasePrompter` arguments (``num_candidates``,
            ``num_prompts``, ``threshold``, ``refine_rounds``,
            ``rewrite``, ``seed``).
    """
    source = 'offline'

    def __init__(self,
                 template: str = '{scene}, {light}',
                 scenes: Optional[Dict[str, List[str]]] = None,
                 lighting: Optional[List[str]] = None,
                 class_tags: Optional[Dict[str, List[str]]] = None,
                 jitter: float = 0.05,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.template = template
        self.scenes = dict(scenes if scenes is not None else SCENES)
        self.lighting = list(lighting if lighting is not None else LIGHTING)
        if not self.scenes or not self.lighting:
            raise ValueError('OfflinePrompter needs scenes and lighting')
        self.class_tags = {k.lower(): v for k, v in CLASS_TAGS.items()}
        self.class_tags.update(
            {k.lower(): v
             for k, v in (class_tags or {}).items()})
        self.jitter = float(jitter)
        self._origin: Dict[str, tuple] = {}
        self._used: Dict[str, set] = {}

    def _rng(self, *parts) -> np.random.Generator:
        return np.random.default_rng(item_seed(self.seed, *parts))

    def _make(self, class_name: str, scene: str, light: str) -> str:
        prompt = self.template.format(scene=scene, light=light)
        self._origin[prompt] = (scene, light)
        self._used.setdefault(class_name, set()).add(scene)
        return prompt

    def generate(self, class_name: str, num: int) -> List[str]:
        rng = self._rng('generate', class_name)
        self._used[class_name] = set()
        scenes = list(self.scenes)
        combos = [(s, li) for s in scenes for li in self.lighting]
        order = rng.permutation(len(combos))
        out, used_scenes = [], set()
        # distinct scenes first, then repeats with another light
        for idx in list(order):
            scene, light = combos[idx]
            if scene not in used_scenes:
                used_scenes.add(scene)
                out.append(self._make(class_name, scene, light))
            if len(out) == num:
                return out
        for idx in order:
            p = self._make(class_name, *combos[idx])
            if p not in out:
                out.append(p)
            if len(out) == num:
                break
        return out

    def _class_tags(self, class_name: str) -> Optional[List[str]]:
        return self.class_tags.get(class_name.lower())

    def score(self, class_name: str, prompts: Sequence[str]) -> List[float]:
        tags = self._class_tags(class_name)
        out = []
        for p in prompts:
            scene = self._origin.get(p, (None, None))[0]
            scene_tags = self.scenes.get(scene, [])
            if scene is None:  # a prompt this backend did not write
                scene_tags = [
                    t for s, ts in self.scenes.items() if s in p for t in ts
                ]
            noise = self._rng('score', class_name, p).uniform(
                -self.jitter, self.jitter)
            out.append(offline_score(scene_tags, tags, noise))
        return out

    def rewrite(self, class_name: str,
                prompts: Sequence[str]) -> List[str]:
        tags = self._class_tags(class_name)
        used = self._used.get(class_name, set())
        ranked = sorted(
            self.scenes,
            key=lambda s: (-offline_score(self.scenes[s], tags), s))
        free = [s for s in ranked if s not in used] or ranked
        out = []
        for i, p in enumerate(prompts):
            light = self._origin.get(p, (None, self.lighting[0]))[1]
            out.append(self._make(class_name, free[i % len(free)], light))
        return out
