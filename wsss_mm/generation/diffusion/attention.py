"""Capture the attention of a diffusers UNet while it samples.

:func:`capture_attention` installs :class:`AttentionCaptureProcessor` on the
chosen attention layers through diffusers' attention-processor API
(``set_attn_processor``) and restores the original processors when the block
ends, also on an exception. Layers not captured keep their processor (the
fused ``AttnProcessor2_0`` by default). The captured layers compute the
attention explicitly (the probabilities are needed) with the same
operations as diffusers' ``AttnProcessor`` and hand the probabilities of the
conditional branch to an :class:`AttentionStore`, which keeps a running sum
per resolution, averaged over heads and summed over layers and denoising
steps: memory does not grow with the number of steps or layers.

Example::

    store = AttentionStore(self_resolutions=[(32, 32)])
    with capture_attention(pipe.unet, store):
        image = pipe(prompt, height=512, width=512).images[0]
    cross = store.maps('cross')     # {(16, 16): (B, 16, 16, 77), ...}
"""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from wsss_mm.generation.utils.attention_maps import (Resolution,
                                                     conditional_head_mean,
                                                     query_resolution)

#: Parameters diffusers passes to an attention processor; checked at install
#: so that an API change fails loudly instead of capturing nothing.
PROCESSOR_PARAMS = ('attn', 'hidden_states', 'encoder_hidden_states',
                    'attention_mask', 'temb')


class AttentionStore:
    """Running sums of attention probabilities per kind and resolution.

    Args:
        cross (bool): Record cross-attention (text tokens as keys).
        cross_resolutions (list, optional): Query grids ``(h, w)`` of the
            cross-attention to record; None records all.
        self_resolutions (list): Query grids of the self-attention to record
            (``(h*w, h*w)`` per sample, so keep them small, e.g. 32x32);
            empty: no self-attention.
        conditional_half (bool): The UNet batch is ``[uncond, cond]``
            (classifier-free guidance): record the second half only. Set it
            False for guidance scale <= 1.
        steps (list, optional): UNet call indices (0-based denoising steps)
            to record; None records all.
        latent_hw (tuple, optional): Latent size ``(h, w)``; needed for
            non-square images.
    """

    def __init__(self,
                 cross: bool = True,
                 cross_resolutions: Optional[Sequence[Resolution]] = None,
                 self_resolutions: Sequence[Resolution] = (),
                 conditional_half: bool = True,
                 steps: Optional[Sequence[int]] = None,
                 latent_hw: Optional[Resolution] = None) -> None:
        self.cross = cross
        self.cross_resolutions = (None if cross_resolutions is None else
                                  {tuple(r) for r in cross_resolutions})
        self.self_resolutions = {tuple(r) for r in self_resolutions}
        self.conditional_half = conditional_half
        self.steps = None if steps is None else set(steps)
        self.latent_hw = None if latent_hw is None else tuple(latent_hw)
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded (call between samples)."""
        self._sums: Dict[Tuple[str, Resolution], torch.Tensor] = {}
        self._counts: Dict[Tuple[str, Resolution], int] = {}
        self.step = -1  # incremented before each UNet call

    # -- decisions -------------------------------------------------------
    def _step_active(self) -> bool:
        return self.steps is None or self.step in self.steps

    def wants(self, kind: str, res: Resolution) -> bool:
        """Whether a layer of ``kind`` at query grid ``res`` is recorded at
        the current step."""
        if not self._step_active():
            return False
        if kind == 'cross':
            return self.cross and (self.cross_resolutions is None
                                   or res in self.cross_resolutions)
        return res in self.self_resolutions

    @property
    def needs_self(self) -> bool:
        return bool(self.self_resolutions)

    # -- recording -------------------------------------------------------
    def add(self, kind: str, res: Resolution, probs: torch.Tensor,
            heads: int) -> None:
        """Add one layer's ``(batch*heads, Q, K)`` probabilities."""
        m = conditional_head_mean(probs.detach(), heads,
                                  self.conditional_half)
        key = (kind, res)
        if key in self._sums:
            self._sums[key] += m
            self._counts[key] += 1
        else:
            self._sums[key] = m.clone()
            self._counts[key] = 1

    # -- results ---------------------------------------------------------
    def counts(self, kind: str) -> Dict[Resolution, int]:
        """Number of (layer, step) maps summed per resolution."""
        return {r: n for (k, r), n in self._counts.items() if k == kind}

    def maps(self, kind: str = 'cross') -> Dict[Resolution, torch.Tensor]:
        """Mean maps per resolution.

        Returns:
            dict: cross: ``{(h, w): (B, h, w, T)}``; self:
            ``{(h, w): (B, h*w, h*w)}`` (rows sum to 1).
        """
        out = {}
        for (k, r), s in self._sums.items():
            if k != kind:
                continue
            m = s / self._counts[(k, r)]
            if kind == 'cross':
                m = m.reshape(m.shape[0], r[0], r[1], m.shape[-1])
            out[r] = m
        return out

    def nbytes(self) -> int:
        """Memory held by the running sums."""
        return sum(t.numel() * t.element_size() for t in self._sums.values())


class AttentionCaptureProcessor:
    """An attention processor that records probabilities.

    It computes attention exactly as diffusers' ``AttnProcessor`` (explicit
    softmax, so the probabilities exist) and passes the call to the layer's
    original processor whenever the store does not want this layer at this
    step (e.g. a self-attention at an unrecorded resolution).

    Args:
        store (AttentionStore): Where probabilities go.
        kind (str): ``'cross'`` or ``'self'``.
        original: The layer's previous processor.
    """

    def __init__(self, store: AttentionStore, kind: str, original) -> None:
        if kind not in ('cross', 'self'):
            raise ValueError(f"kind must be 'cross' or 'self', got {kind}")
        self.store = store
        self.kind = kind
        self.original = original

    def __call__(self,
                 attn,
                 hidden_states: torch.Tensor,
                 encoder_hidden_states: Optional[torch.Tensor] = None,
                 attention_mask: Optional[torch.Tensor] = None,
                 temb: Optional[torch.Tensor] = None,
                 *args,
                 **kwargs) -> torch.Tensor:
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            num_q = hidden_states.shape[2] * hidden_states.shape[3]
        else:
            num_q = hidden_states.shape[1]
        latent_hw = self.store.latent_hw
        if input_ndim == 4 and latent_hw is None:
            res = tuple(hidden_states.shape[2:])
        else:
            res = query_resolution(num_q, latent_hw)
        if not self.store.wants(self.kind, res):
            return self.original(attn, hidden_states, encoder_hidden_states,
                                 attention_mask, temb, *args, **kwargs)

        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel,
                                               height * width).transpose(1, 2)
        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else
            encoder_hidden_states.shape)
        attention_mask = attn.prepare_attention_mask(attention_mask,
                                                     sequence_length,
                                                     batch_size)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(
                1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(
                encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        query = attn.head_to_batch_dim(query)
        key = attn.head_to_batch_dim(key)
        value = attn.head_to_batch_dim(value)

        probs = attn.get_attention_scores(query, key, attention_mask)
        self.store.add(self.kind, res, probs, attn.heads)

        hidden_states = torch.bmm(probs, value)
        hidden_states = attn.batch_to_head_dim(hidden_states)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(
                batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def _layer_kind(name: str) -> Optional[str]:
    """'cross' / 'self' for the attention layers of transformer blocks."""
    if name.endswith('attn2.processor'):
        return 'cross'
    if name.endswith('attn1.processor'):
        return 'self'
    return None


def capture_layer_names(unet,
                        store: AttentionStore,
                        blocks: Sequence[str] = ('down', 'mid', 'up')
                        ) -> Dict[str, str]:
    """Processor names that :func:`capture_attention` replaces.

    Args:
        unet: A diffusers ``UNet2DConditionModel`` (or any model with
            ``attn_processors``).
        store (AttentionStore): Decides whether self-attention is needed.
        blocks (list[str]): UNet parts to capture (``'down'``, ``'mid'``,
            ``'up'``).

    Returns:
        dict: ``{processor name: kind}``.
    """
    prefixes = tuple(f'{b}_block' for b in blocks)
    out = {}
    for name in unet.attn_processors:
        if not name.startswith(prefixes):
            continue
        kind = _layer_kind(name)
        if kind == 'cross' and store.cross:
            out[name] = kind
        elif kind == 'self' and store.needs_self:
            out[name] = kind
    return out


def _check_processor_api(processors: dict) -> None:
    import inspect
    for name, proc in processors.items():
        params = list(inspect.signature(proc.__call__).parameters)
        if params[:len(PROCESSOR_PARAMS)] != list(PROCESSOR_PARAMS):
            raise RuntimeError(
                f'attention processor {type(proc).__name__} of {name} takes '
                f'{params}, expected {list(PROCESSOR_PARAMS)} first: the '
                f'installed diffusers changed its attention-processor API; '
                f'attention capture supports the pinned diffusers version')


@contextlib.contextmanager
def capture_attention(unet,
                      store: AttentionStore,
                      blocks: Sequence[str] = ('down', 'mid', 'up')
                      ) -> Iterator[List[str]]:
    """Record the UNet's attention into ``store`` inside the block.

    Args:
        unet: A diffusers ``UNet2DConditionModel``.
        store (AttentionStore): Receives the maps; its ``step`` counts the
            UNet calls made inside the block.
        blocks (list[str]): UNet parts whose layers are captured.

    Yields:
        list[str]: The names of the captured processors.

    Raises:
        RuntimeError: No layer to capture, or the processor API changed.
    """
    original = dict(unet.attn_processors)
    _check_processor_api(original)
    names = capture_layer_names(unet, store, blocks)
    if not names:
        raise RuntimeError(
            f'no attention layer to capture in {type(unet).__name__} '
            f'(blocks={list(blocks)}); expected processors named '
            f'"...attn1.processor" / "...attn2.processor"')
    procs = {
        n: (AttentionCaptureProcessor(store, names[n], p)
            if n in names else p)
        for n, p in original.items()
    }

    def _count_step(module, args):
        store.step += 1

    unet.set_attn_processor(procs)
    handle = unet.register_forward_pre_hook(_count_step)
    try:
        yield sorted(names)
    finally:
        handle.remove()
        unet.set_attn_processor(dict(original))
