"""mmengine's CheckpointHook with crash-safe bookkeeping."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from wsss_mm.registry import HOOKS
from wsss_mm.utils.fileio import (is_temp_file, remove_stale_temp_files,
                                  write_text_atomic)


@HOOKS.register_module()
class WSSSCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files a ``kill -9`` cannot tear.

    - ``last_checkpoint`` is written atomically, after the checkpoint it
      names is complete (the runner writes checkpoints atomically too), so
      it never names a torn file.
    - ``max_keep_ckpts`` removes everything written for a checkpoint: the
      file, temporaries left by a writer killed while writing it and the
      ``*.pth.wsss_mm.json`` sidecar older versions wrote.
    - Temporaries of killed writers in the checkpoint folder are removed
      before training starts (rank 0).

    ``WSSSRunner`` uses it wherever a config asks for ``CheckpointHook``;
    arguments are mmengine's.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and osp.isdir(str(self.out_dir)):
            for path in remove_stale_temp_files(self.out_dir):
                runner.logger.warning(
                    f'removed {path}, left by a checkpoint write that was '
                    'interrupted')

    def _remove_checkpoint(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed: directories
            self.file_backend.rmtree(path)
        if not osp.isdir(osp.dirname(path)):  # remote backends
            return
        sidecar = path + '.wsss_mm.json'
        if osp.isfile(sidecar):
            self.file_backend.remove(sidecar)
        base = osp.basename(path)
        for name in self.file_backend.list_dir_or_file(
                osp.dirname(path), list_dir=False):
            if is_temp_file(name) and name.startswith(f'.{base}.tmp-'):
                self.file_backend.remove(osp.join(osp.dirname(path), name))

    def _save_checkpoint_with_step(self, runner, step, meta):
        # mmengine's logic, with the removal and `last_checkpoint` above.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                old = self.keep_ckpt_ids.popleft()
                if is_main_process():
                    self._remove_checkpoint(
                        self.file_backend.join_path(
                            self.out_dir, self.filename_tmpl.format(old)))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            write_text_atomic(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
