"""Prompt backend for any OpenAI-compatible chat-completions endpoint.

vLLM, llama.cpp's server, Ollama and OpenAI itself speak the protocol; the
real ``openai`` client is used. The API key is read from the environment
variable NAMED by ``api_key_env`` (the config holds the name, never the
key) and never reaches a log, an error message, the answer cache, a
manifest or a config dump: every message derived from an exception is
passed through :meth:`OpenAIPrompter.redact`.
"""
import logging
import os
import os.path as osp
import time
from typing import Callable, List, Optional, Sequence

from mmengine.logging import print_log

from wsss_mm.registry import GENERATORS
from ..utils.llm_answers import MalformedAnswer, parse_prompts, parse_scores
from .base import BasePrompter
from .cache import AnswerCache

SYSTEM_MESSAGE = ('You help build training data for image segmentation. '
                  'You answer with JSON only, exactly in the requested '
                  'format.')
GENERATE_TEMPLATE = (
    'Write {num} different, realistic background descriptions for a '
    'photograph of a {class_name}. Each is one short phrase of at most 15 '
    'words that describes only the place, scene and light around the '
    '{class_name}, not the {class_name} itself. Vary the places. Answer '
    'with JSON only: {{"prompts": ["...", "..."]}}')
SCORE_TEMPLATE = (
    'How plausible is it to photograph a {class_name} in each of these '
    'backgrounds? Give each a score from 0 (implausible) to 1 (very '
    'plausible).\n{numbered}\nAnswer with JSON only: {{"scores": [...]}} '
    'with exactly {num} numbers, one per background, in the same order.')
REWRITE_TEMPLATE = (
    'These backgrounds are implausible for a photograph of a '
    '{class_name}:\n{numbered}\nRewrite each into a realistic background '
    'in which a {class_name} is commonly seen (one short phrase, at most '
    '15 words, describing only the background). Answer with JSON only: '
    '{{"prompts": ["...", "..."]}}')
NO_KEY = 'not-needed'


class LLMFailure(RuntimeError):
    """The LLM gave no usable answer after every retry (message redacted).
    """


def numbered(prompts: Sequence[str]) -> str:
    """``1. a\\n2. b``: the list format the templates show the LLM."""
    return '\n'.join(f'{i}. {p}' for i, p in enumerate(prompts, 1))


@GENERATORS.register_module()
class OpenAIPrompter(BasePrompter):
    """Self-refining prompt agent on an OpenAI-compatible chat endpoint.

    Each request (generate, score, rewrite) is answered from the on-disk
    cache when the same request was answered before, so a re-run costs no
    tokens. Otherwise it is sent with a timeout; a timeout, a connection
    error, an HTTP error, or an answer that does not parse (broken JSON,
    refusal, empty, wrong number of scores) is logged with the reason and
    retried after ``backoff * 2**attempt`` seconds (at most
    ``backoff_max``), ``max_retries`` times. When every try fails, the
    class is handled by ``on_failure``: ``'fallback'`` (default) builds the
    class's prompts with the ``fallback`` prompter (the offline one unless
    configured), logged as a warning and marked ``source='fallback'``;
    ``'raise'`` raises :class:`LLMFailure`.

    Args:
        model (str): Model name the endpoint serves.
        base_url (str, optional): Endpoint, e.g.
            ``'http://127.0.0.1:8000/v1'``; None for OpenAI's default.
        api_key_env (str, optional): NAME of the environment variable that
            holds the API key (e.g. ``'OPENAI_API_KEY'``). None for local
            servers without a key. A name whose variable is unset is an
            error naming the variable.
        timeout (float): Seconds per request. Defaults to 60.
        max_retries (int): Retries after the first try. Defaults to 3.
        backoff (float): First retry delay in seconds. Defaults to 1.
        backoff_max (float): Longest retry delay. Defaults to 30.
        temperature (float): Sampling temperature. Defaults to 0.7 (the
            scoring requests use 0).
        max_tokens (int): Answer length limit. Defaults to 512.
        cache_dir (str, optional): Answer cache folder; defaults to
            ``$WSSS_MM_CACHE/llm`` (``~/.cache/wsss_mm/llm``).
        on_failure (str): ``'fallback'`` or ``'raise'``.
        fallback (dict, optional): Config of the fallback prompter;
            defaults to an :class:`OfflinePrompter` with the same
            ``num_candidates``, ``num_prompts``, ``threshold`` and
            ``seed``.
        generate_template, score_template, rewrite_template (str): The
            request texts; placeholders ``{class_name}``, ``{num}``,
            ``{numbered}`` (the prompts as a numbered list).
        system_message (str): The system message.
        **kwargs: :class:`BasePrompter` arguments.
    """
    source = 'llm'

    def __init__(self,
                 model: str,
                 base_url: Optional[str] = None,
                 api_key_env: Optional[str] = 'OPENAI_API_KEY',
                 timeout: float = 60.,
                 max_retries: int = 3,
                 backoff: float = 1.,
                 backoff_max: float = 30.,
                 temperature: float = 0.7,
                 max_tokens: int = 512,
                 cache_dir: Optional[str] = None,
                 on_failure: str = 'fallback',
                 fallback: Optional[dict] = None,
                 generate_template: str = GENERATE_TEMPLATE,
                 score_template: str = SCORE_TEMPLATE,
                 rewrite_template: str = REWRITE_TEMPLATE,
                 system_message: str = SYSTEM_MESSAGE,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if on_failure not in ('fallback', 'raise'):
            raise ValueError(f"on_failure must be 'fallback' or 'raise', "
                             f'got {on_failure!r}')
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.backoff_max = float(backoff_max)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.on_failure = on_failure
        self.templates = dict(
            generate=generate_template,
            score=score_template,
            rewrite=rewrite_template)
        self.system_message = system_message
        if cache_dir is None:
            from wsss_mm.datasets.base_wsss import default_cache_dir
            cache_dir = osp.join(default_cache_dir(), 'llm')
        self.cache = AnswerCache(cache_dir)
        self.fallback_cfg = fallback if fallback is not None else dict(
            type='OfflinePrompter',
            num_candidates=self.num_candidates,
            num_prompts=self.num_prompts,
            threshold=self.threshold,
            refine_rounds=self.refine_rounds,
            seed=self.seed)
        self._fallback = None
        self._client = None
        self._secret = self._read_key()  # kept only to redact and connect
        self.requests_sent = 0
        self.failed_tries = 0

    # ------------------------------------------------------------------
    # key handling
    # ------------------------------------------------------------------
    def _read_key(self) -> Optional[str]:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise KeyError(
                f'OpenAIPrompter: the environment variable '
                f'{self.api_key_env!r} (prompter.api_key_env) is not set; '
                'export it with your API key, or set prompter.api_key_env='
                'None for a local server that needs no key')
        return key

    def redact(self, text: str) -> str:
        """``text`` with the API key, and any run of 8 or more of its
        characters, replaced by ``***``."""
        text = str(text)
        key = self._secret
        if not key:
            return text
        if key in text:
            text = text.replace(key, '***')
        n = len(key)
        for length in range(min(n - 1, 64), 7, -1):
            for start in range(0, n - length + 1):
                part = key[start:start + length]
                if part in text:
                    text = text.replace(part, '***')
        return text

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(model={self.model!r}, '
                f'base_url={self.base_url!r}, '
                f'api_key_env={self.api_key_env!r})')

    def __getstate__(self):
        raise TypeError('OpenAIPrompter is not picklable (it holds a '
                        'client with credentials)')

    @property
    def client(self):
        if self._client is None:
            import openai
            self._client = openai.OpenAI(
                api_key=self._secret or NO_KEY,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0)  # retries are ours: logged, with backoff
        return self._client

    # ------------------------------------------------------------------
    # requests
    # ------------------------------------------------------------------
    def _request(self, purpose: str, class_name: str,
                 prompts: Sequence[str] = (), num: int = 0) -> dict:
        text = self.templates[purpose].format(
            class_name=class_name,
            num=num or len(prompts),
            numbered=numbered(prompts))
        return dict(
            model=self.model,
            messages=[
                dict(role='system', content=self.system_message),
                dict(role='user', content=text)
            ],
            temperature=0. if purpose == 'score' else self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed)

    def _send(self, request: dict) -> str:
        self.requests_sent += 1
        resp = self.client.chat.completions.create(**request)
        if not resp.choices:
            raise MalformedAnswer('the answer has no choices')
        msg = resp.choices[0].message
        refusal = getattr(msg, 'refusal', None)
        if refusal:
            raise MalformedAnswer(f'the model refused: {refusal!r:.80}')
        return msg.content or ''

    def ask(self, purpose: str, request: dict,
            parse: Callable[[str], object]) -> object:
        """Answer ``request`` from the cache, or send it with retries.

        Returns:
            The parsed answer.

        Raises:
            LLMFailure: No usable answer after ``1 + max_retries`` tries.
        """
        cached = self.cache.get(request)
        if cached is not None:
            try:
                return parse(cached)
            except MalformedAnswer:
                pass  # an older format: ask again
        tries = 1 + self.max_retries
        last = ''
        for attempt in range(tries):
            try:
                answer = self._send(request)
                parsed = parse(answer)
            except MalformedAnswer as e:
                last = f'malformed answer: {self.redact(e)}'
            except Exception as e:  # noqa: BLE001 (openai/httpx errors)
                last = f'{type(e).__name__}: {self.redact(e)}'
            else:
                self.cache.put(request, answer)
                return parsed
            self.failed_tries += 1
            delay = min(self.backoff * 2**attempt, self.backoff_max)
            more = (f'retrying in {delay:.2f} s' if attempt + 1 < tries else
                    'giving up')
            print_log(
                f'LLM {purpose} request to {self.model!r} at '
                f'{self.base_url or "the default endpoint"}: try '
                f'{attempt + 1}/{tries} failed ({last}); {more}',
                logger='current',
                level=logging.WARNING)
            if attempt + 1 < tries:
                time.sleep(delay)
        raise LLMFailure(f'no usable {purpose} answer from {self.model!r} '
                         f'after {tries} tries; last: {last}')

    def generate(self, class_name: str, num: int) -> List[str]:
        req = self._request('generate', class_name, num=num)
        return self.ask('generate', req, parse_prompts)[:num]

    def score(self, class_name: str, prompts: Sequence[str]) -> List[float]:
        req = self._request('score', class_name, prompts)
        return self.ask('score', req,
                        lambda t: parse_scores(t, len(prompts)))

    def rewrite(self, class_name: str,
                prompts: Sequence[str]) -> List[str]:
        req = self._request('rewrite', class_name, prompts)
        return self.ask('rewrite', req, parse_prompts)

    # ------------------------------------------------------------------
    # failure policy
    # ------------------------------------------------------------------
    @property
    def fallback(self) -> BasePrompter:
        if self._fallback is None:
            self._fallback = GENERATORS.build(self.fallback_cfg)
        return self._fallback

    def prompts_for_class(self, class_name: str) -> List[dict]:
        sent, failed = self.requests_sent, self.failed_tries
        try:
            kept = super().prompts_for_class(class_name)
            self.stats[class_name].update(
                requests=self.requests_sent - sent,
                failed_tries=self.failed_tries - failed)
            return kept
        except LLMFailure as e:
            reason = self.redact(e)
        if self.on_failure == 'raise':
            raise LLMFailure(f'prompts for {class_name!r}: {reason}')
        print_log(
            f'prompts for {class_name!r}: the LLM failed ({reason}); using '
            f'the fallback {self.fallback_cfg.get("type")}',
            logger='current',
            level=logging.WARNING)
        kept = self.fallback.prompts_for_class(class_name)
        for k in kept:
            k['source'] = 'fallback'
        self.stats[class_name] = dict(
            self.fallback.stats.get(class_name, {}),
            source='fallback',
            llm_error=reason,
            requests=self.requests_sent - sent,
            failed_tries=self.failed_tries - failed)
        return kept
