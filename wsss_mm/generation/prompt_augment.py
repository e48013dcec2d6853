"""Prompt augmentation as a configurable generation part."""
from typing import Dict, List, Optional, Sequence

from wsss_mm.registry import GENERATORS
from .utils.prompt_aug import (ATTRIBUTES, DEFAULT_TEMPLATE, SCENES, STYLES,
                               augment_class_prompts)


@GENERATORS.register_module()
class PromptAugmenter:
    """Expand a few class prompts with synonyms, attributes, scenes, styles.

    Offline word lists by default (:mod:`wsss_mm.generation.utils.
    prompt_aug`); every list can be replaced from the config. Scenes can
    also come from a prompt backend of the IAA agent (``scene_prompter``, a
    config of a registered prompter), whose per-class background prompts are
    added to the scene list of that class.

    Args:
        templates (list[str]): Templates with one ``{}``.
        synonyms (dict, optional): Class name -> synonyms (default table
            when None; ``{}`` disables synonyms).
        attributes, scenes, styles (list[str], optional): Word lists
            (defaults when None; ``['']`` disables one).
        seed (int): Seed of the sampling.
        scene_prompter (dict, optional): Config of a prompt backend of the
            IAA agent (:class:`~wsss_mm.generation.prompts.BasePrompter`,
            e.g. ``dict(type='OfflinePrompter')`` or ``'OpenAIPrompter'``);
            the background prompts its ``prompts_for_class`` keeps (after
            self-refinement) join the scenes of that class.
    """

    def __init__(self,
                 templates: Sequence[str] = (DEFAULT_TEMPLATE, ),
                 synonyms: Optional[Dict[str, Sequence[str]]] = None,
                 attributes: Optional[Sequence[str]] = None,
                 scenes: Optional[Sequence[str]] = None,
                 styles: Optional[Sequence[str]] = None,
                 seed: int = 0,
                 scene_prompter: Optional[dict] = None) -> None:
        self.templates = list(templates)
        self.synonyms = synonyms
        self.attributes = list(ATTRIBUTES if attributes is None else
                               attributes)
        self.scenes = list(SCENES if scenes is None else scenes)
        self.styles = list(STYLES if styles is None else styles)
        self.seed = seed
        self.scene_prompter = (GENERATORS.build(scene_prompter)
                               if isinstance(scene_prompter, dict) else
                               scene_prompter)

    def _scenes(self, name: str) -> List[str]:
        if self.scene_prompter is None:
            return self.scenes
        extra = [
            p['prompt'] for p in self.scene_prompter.prompts_for_class(name)
        ]
        return list(dict.fromkeys(self.scenes + extra))

    def __call__(self, class_names: Sequence[str],
                 num_per_class: int) -> Dict[str, List[dict]]:
        """``{class_name: [prompt record, ...]}`` (see
        :func:`augment_class_prompts`)."""
        return {
            name: augment_class_prompts(
                name,
                num_per_class,
                self.templates,
                self.synonyms,
                self.attributes,
                self._scenes(name),
                self.styles,
                seed=self.seed)
            for name in class_names
        }
