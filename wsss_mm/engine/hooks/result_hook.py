"""Write the result of a test run with its protocol (JSON)."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook

from wsss_mm.evaluation.functional import (confusion_matrix,
                                           metrics_from_confusion)
from wsss_mm.evaluation.protocol import (build_protocol, metrics_dict,
                                         prediction_source, protocol_label,
                                         tta_protocol, write_result)
from wsss_mm.registry import HOOKS


def runner_image_labels(model_cfg: dict, pipeline: Sequence[dict]) -> str:
    """Image labels a model config uses at test time in the Runner.

    ``PatchClassifierSegmentor`` predicting from its classifier restricts
    to the sample's ``gt_image_labels`` when the pipeline loads them
    (``use_gt_image_labels``), else to its own predicted labels; a decoder
    uses none.
    """
    model_cfg = model_cfg.get('module', model_cfg)
    if model_cfg.get('infer_from') != 'classifier':
        return 'none'
    loads = any(
        str(t.get('type', '')).endswith('LoadImageLevelLabels')
        for t in pipeline or [])
    if loads and model_cfg.get('use_gt_image_labels', True):
        return 'gt'
    return 'predicted'


@HOOKS.register_module()
class EvaluationResultHook(Hook):
    """After the test epoch, write ``result_SPLIT.json`` with the protocol.

    The hook counts its own confusion matrix from the test outputs
    (``pred_sem_seg`` vs ``gt_sem_seg``, summed over ranks), so the file
    holds mIoU and per-class IoU whatever the evaluator; the protocol
    (:func:`wsss_mm.evaluation.protocol.build_protocol`) comes from the
    config the runner was built from. ``configs/_base_/default_runtime.py``
    adds it, so every test run writes its result, also under mmseg's stock
    ``tools/test.py``.

    Args:
        split (str): Name of the evaluated split. Defaults to 'test'.
        tta (dict, optional): TTA scales and flips; default: read from the
            config's ``tta_pipeline`` when its model is a TTA model.
        out_file (str, optional): Result path; default
            ``{log_dir}/result_{split}.json``.
        ignore_index (int): Ignore id of the ground truth.
    """
    priority = 'LOW'

    def __init__(self,
                 split: str = 'test',
                 tta: Optional[dict] = None,
                 out_file: Optional[str] = None,
                 ignore_index: int = 255) -> None:
        self.split = split
        self.tta = tta
        self.out_file = out_file
        self.ignore_index = ignore_index
        self._cm: Optional[np.ndarray] = None

    def before_test(self, runner) -> None:
        meta = getattr(runner.test_dataloader.dataset, 'metainfo', {}) or {}
        self._classes = list(meta.get('classes', ()))
        self._cm = np.zeros((len(self._classes), len(self._classes) + 1),
                            np.int64)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or []:
            if 'gt_sem_seg' not in sample:
                continue
            self._cm += confusion_matrix(
                sample.pred_sem_seg.data.squeeze(0).cpu().numpy(),
                sample.gt_sem_seg.data.squeeze(0).cpu().numpy(),
                len(self._classes), self.ignore_index)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None
                         ) -> None:
        cm = self._cm
        if get_world_size() > 1:
            t = torch.from_numpy(cm)
            all_reduce(t)
            cm = t.numpy()
        if not is_main_process() or cm.sum() == 0:
            return
        cfg = runner.cfg
        model_cfg = dict(cfg.model)
        tta = self.tta
        if tta is None and 'module' in model_cfg:  # a TTA model
            tta = tta_protocol(cfg.get('tta_pipeline'))
        pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
        protocol = build_protocol(
            split=self.split,
            source=prediction_source(model_cfg),
            image_labels=runner_image_labels(model_cfg, pipeline),
            tta=tta,
            crf=None,
            checkpoint=cfg.get('load_from'),
            config=getattr(cfg, 'filename', None),
            num_images=len(runner.test_dataloader.dataset),
            unsafe_load_checkpoint=bool(
                cfg.get('unsafe_load_checkpoint', False)))
        path = self.out_file or osp.join(runner.log_dir,
                                         f'result_{self.split}.json')
        result = write_result(
            path, protocol,
            metrics_dict(metrics_from_confusion(cm), self._classes))
        runner.logger.info(f"mIoU {result['metrics']['mIoU']} "
                           f'[{protocol_label(protocol)}] -> {path}')
