"""The FSR configs keep the public code's settings."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from wsss_test_utils import REPO_ROOT

from wsss_mm.registry import MODELS


def _cfg(name):
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', 'fsr', name))


def test_primary_fsr_voc_config():
    cfg = _cfg('fsr_vitb_voc.py')
    m = cfg.model
    assert m.type == 'FSR' and m.ctc is None
    assert m.backbone.arch == 'b' and m.backbone.patch_size == 16
    assert m.backbone.with_mask_token and m.backbone.aux_layer == -3
    assert m.backbone.drop_path_rate == 0.1
    assert m.data_preprocessor.type == 'MultiViewSegDataPreProcessor'
    assert m.aggregator.num_blocks == 2
    assert (m.projector.hidden_channels, m.projector.bottleneck_channels,
            m.projector.out_channels) == (2048, 256, 4096)
    f = m.loss_fsr
    assert (f.student_temp, f.warmup_teacher_temp, f.teacher_temp,
            f.warmup_ratio, f.center_momentum) == (0.1, 0.04, 0.07, 0.125,
                                                   0.9)
    assert f.loss_weight_class == f.loss_weight_patch == 0.1
    assert m.mask_cfg == dict(block_size=64, mask_ratio=0.4, low_thr=0.2,
                              high_thr=0.7, random_ratio=0.2)
    assert m.fsr_iters is None  # the whole run (public: = max_iters)
    assert m.loss_ptc_weight == 0.2 and m.seg_start_iter == 2000
    assert m.decode_head.loss_decode.loss_weight == 0.1
    assert m.reg_loss.loss_weight == 0.05
    assert m.cam_cfg.bkg_thr == 0.5
    assert cfg.custom_hooks == [
        dict(type='EvaluationResultHook'),
        dict(type='TeacherEMAHook', base_momentum=0.9995, final_momentum=1.0)
    ]
    views = cfg.train_pipeline[2]
    assert views.type == 'FSRTwoViews' and views.crop_size == 448
    assert views.scale == (0.32, 1.0) and views.jitter_prob == 0.5
    assert views.color_jitter == (0.4, 0.4, 0.2, 0.1)
    assert cfg.train_dataloader.batch_size == 2  # x 4 GPUs
    assert cfg.train_cfg.max_iters == 20000
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 6e-5, 0.05)
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.start_factor, warm.end) == ('LinearLR', 0.1,
                                                        1500)
    assert (cos.type, cos.begin, cos.end) == ('CosineAnnealingLR', 1500,
                                             20000)


def test_coco_config():
    cfg = _cfg('fsr_vitb_coco.py')
    assert cfg.model.decode_head.num_classes == 81
    assert cfg.model.cam_cfg.bkg_thr == 0.45
    assert cfg.model.cam_cfg.high_thr == 0.65
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.param_scheduler[1].end == 80000
    assert cfg.param_scheduler[1].T_max == 80000 - 1500


def test_param_groups_lr_and_decay():
    cfg = _cfg('fsr_vitb_voc.py')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.arch = dict(embed_dims=32, num_layers=3, num_heads=2,
                                   feedforward_channels=64)
    model_cfg.backbone.init_cfg = None
    model_cfg.decode_head.channels = 16
    model_cfg.projector.update(hidden_channels=32, bottleneck_channels=16,
                               out_channels=32)
    model = MODELS.build(model_cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    by_param = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            by_param[id(p)] = (group['lr'], group['weight_decay'])
    named = dict(model.named_parameters())

    def check(name, lr_mult, decay):
        lr, wd = by_param[id(named[name])]
        assert lr == pytest.approx(6e-5 * lr_mult), name
        assert wd == pytest.approx(0.05 if decay else 0.0), name

    check('backbone.pos_embed', 1, False)
    check('backbone.cls_token', 1, False)
    check('backbone.mask_token', 1, False)
    check('backbone.layers.0.ln1.weight', 1, False)
    check('backbone.layers.0.attn.qkv.weight', 1, True)
    check('backbone.layers.0.attn.qkv.bias', 1, False)
    check('aggregator.cls_token', 1, False)
    check('aggregator.blocks.0.attn.q.weight', 1, True)
    check('classifier.weight', 10, True)
    check('aux_classifier.weight', 10, True)
    check('projector.last_weight', 10, True)
    check('projector.mlp.0.bias', 10, False)
    check('decode_head.conv_seg.weight', 10, True)
