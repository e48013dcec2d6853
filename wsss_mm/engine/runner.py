"""A Runner that trains on CPU-only machines and reloads its checkpoints."""
import os
import os.path as osp
from typing import Callable, Dict, Optional, Union

import torch
import torch.distributed as dist
from mmengine.device import get_device
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

from wsss_mm.registry import MODEL_WRAPPERS, RUNNERS
from wsss_mm.utils.compat import (default_num_threads, init_cpu_distributed,
                                  load_checkpoint_file, write_trust_record)


@RUNNERS.register_module()
class WSSSRunner(Runner):
    """mmengine Runner with the compat shims of :mod:`wsss_mm.utils.compat`.

    - ``launcher='pytorch'`` without CUDA: gloo process group and a DDP
      wrapper without ``device_ids`` (mmengine 0.10.7 assumes CUDA).
    - Checkpoints it saves get a trust record, so they resume (and load in
      ``tools/test.py``) under torch >= 2.6; other files load with
      ``weights_only=True``.

    Configs select it with ``runner_type = 'wsss_mm.WSSSRunner'``
    (scope-qualified, so mmseg's stock tools, which build runners from
    mmengine's root registry, find it too).
    """

    def setup_env(self, env_cfg: Dict) -> None:
        if self._launcher == 'pytorch' and not torch.cuda.is_available():
            dist_cfg = dict(env_cfg.get('dist_cfg', {}))
            init_cpu_distributed(self._launcher, dist_cfg.get('timeout'))
            # Split the cores between ranks instead of every rank taking
            # all of them (torchrun usually sets OMP_NUM_THREADS already).
            world = int(os.environ.get('WORLD_SIZE', 1))
            if 'OMP_NUM_THREADS' not in os.environ:
                torch.set_num_threads(default_num_threads(world))
        super().setup_env(env_cfg)

    def train(self) -> torch.nn.Module:
        # Says which backend and how many ranks really run (checked in CI).
        if self.distributed:
            self.logger.info(
                f'distributed: backend={dist.get_backend()}, '
                f'world_size={self.world_size}, '
                f'threads_per_rank={torch.get_num_threads()}')
        return super().train()

    @staticmethod
    def build_dataloader(dataloader, seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        # torch refuses persistent_workers without workers; configs set it
        # for their default num_workers, so `num_workers=0` overrides
        # (debugging, tests) must not need a second override.
        if isinstance(dataloader, dict) and not dataloader.get(
                'num_workers', 0):
            dataloader = dict(dataloader, persistent_workers=False)
        return Runner.build_dataloader(dataloader, seed, diff_rank_seed)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module):
        if not self.distributed or torch.cuda.is_available():
            return super().wrap_model(model_wrapper_cfg, model)
        # CPU DDP. mmengine's wrap_model would pass device_ids=[LOCAL_RANK]
        # (refused for CPU modules) and looks wrapper types up in its root
        # registry, which cannot see wsss_mm's scope.
        cfg = dict(model_wrapper_cfg or {})
        cfg.setdefault('type', 'WSSSDistributedDataParallel')
        cfg.setdefault('broadcast_buffers', False)
        cfg.setdefault('find_unused_parameters',
                       self.cfg.get('find_unused_parameters', False))
        model = model.to(get_device())
        return MODEL_WRAPPERS.build(cfg, default_args=dict(module=model))

    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        **kwargs) -> None:
        super().save_checkpoint(out_dir, filename, *args, **kwargs)
        if self.rank == 0:
            path = osp.join(out_dir, filename)
            if osp.isfile(path):
                write_trust_record(path)

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        if osp.isfile(filename):
            checkpoint = load_checkpoint_file(filename, map_location)
        else:  # URLs and other schemes: mmengine's loaders, weights only
            checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
