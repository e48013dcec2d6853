"""Write PNG reports of a test run (per-class IoU, confusion, overlays)."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook

from wsss_mm.evaluation.functional import (confusion_matrix,
                                           metrics_from_confusion)
from wsss_mm.registry import HOOKS
from wsss_mm.visualization.report import (save_confusion_matrix,
                                          save_iou_bar_chart,
                                          save_overlay_panel)


@HOOKS.register_module()
class WSSSReportHook(Hook):
    """After the test epoch, save report PNGs into ``out_dir``.

    - ``iou_per_class.png``: per-class IoU bars,
    - ``confusion_matrix.png``: row-normalised confusion matrix,
    - ``panels/NAME.png``: image / prediction / ground truth overlays of
      the first ``num_panels`` test images.

    The hook computes its own confusion matrix from the test outputs
    (``pred_sem_seg`` vs ``gt_sem_seg``, summed over ranks), so it works
    with any evaluator. ``tools/test.py --show-dir DIR`` adds it with
    ``out_dir=DIR``.

    Args:
        out_dir (str, optional): Output folder; None writes to
            ``{work_dir}/report``.
        num_panels (int): Number of overlay panels. Defaults to 8.
        ignore_index (int): Ignore id of the ground truth. Defaults to 255.
    """
    priority = 'LOW'

    def __init__(self,
                 out_dir: Optional[str] = None,
                 num_panels: int = 8,
                 ignore_index: int = 255) -> None:
        self.out_dir = out_dir
        self.num_panels = num_panels
        self.ignore_index = ignore_index
        self._cm: Optional[np.ndarray] = None
        self._panels = 0

    def _meta(self, runner) -> dict:
        meta = getattr(runner.test_dataloader.dataset, 'metainfo', None)
        return dict(meta or {})

    def before_test(self, runner) -> None:
        self._out = self.out_dir or osp.join(runner.work_dir, 'report')
        meta = self._meta(runner)
        self._classes = list(meta.get('classes', ()))
        self._palette = meta.get('palette')
        if self._palette is None:
            rng = np.random.default_rng(0)
            self._palette = rng.integers(0, 256,
                                         (len(self._classes), 3)).tolist()
        self._cm = None
        self._panels = 0

    def _image_for(self, sample, shape) -> np.ndarray:
        """The test image at the prediction's size (RGB)."""
        img = mmcv.imread(sample.img_path, channel_order='rgb')
        box = sample.metainfo.get('tile_box')
        if box is not None:
            x0, y0, x1, y1 = (int(v) for v in box)
            img = img[y0:y1, x0:x1]
        if img.shape[:2] != tuple(shape):
            img = mmcv.imresize(img, (shape[1], shape[0]))
        return img

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        num_classes = len(self._classes)
        for sample in outputs or []:
            pred = sample.pred_sem_seg.data.squeeze(0).cpu().numpy()
            gt = None
            if 'gt_sem_seg' in sample and num_classes:
                gt = sample.gt_sem_seg.data.squeeze(0).cpu().numpy()
                cm = confusion_matrix(pred, gt, num_classes,
                                      self.ignore_index)
                self._cm = cm if self._cm is None else self._cm + cm
            if self._panels < self.num_panels and is_main_process():
                panels = {'prediction': pred}
                if gt is not None:
                    panels['ground truth'] = gt
                name = osp.splitext(osp.basename(sample.img_path))[0]
                box = sample.metainfo.get('tile_box')
                if box is not None:
                    name += '_' + '_'.join(str(int(v)) for v in box)
                save_overlay_panel(
                    osp.join(self._out, 'panels', f'{name}.png'),
                    self._image_for(sample, pred.shape), panels,
                    self._palette, self._classes, title=name)
                self._panels += 1

    def after_test_epoch(self, runner, metrics: Optional[dict] = None
                         ) -> None:
        num_classes = len(self._classes)
        cm = self._cm
        if cm is None:
            cm = np.zeros((num_classes, num_classes + 1), np.int64)
        if get_world_size() > 1:
            t = torch.from_numpy(cm.astype(np.int64))
            all_reduce(t)  # sums over ranks
            cm = t.numpy()
        if not is_main_process() or cm.sum() == 0:
            return
        m = metrics_from_confusion(cm)
        save_iou_bar_chart(
            osp.join(self._out, 'iou_per_class.png'), m['IoU'],
            self._classes,
            title=f"per-class IoU (mIoU {m['mIoU'] * 100:.2f})")
        save_confusion_matrix(
            osp.join(self._out, 'confusion_matrix.png'), cm, self._classes)
        runner.logger.info(f'report PNGs written to {self._out}')
