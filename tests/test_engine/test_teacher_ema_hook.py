"""TeacherEMAHook with the real Runner on a tiny model."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel, ExponentialMovingAverage
from mmengine.runner import Runner
from torch.utils.data import Dataset

from wsss_mm.engine.hooks import TeacherEMAHook


class _Data(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(4, generator=g))


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.student = nn.Linear(4, 2)
        self.teacher = ExponentialMovingAverage(self.student)
        self.teacher.steps.fill_(1)  # average from the first update

    def update_teacher(self, momentum):
        self.teacher.momentum = 1.0 - momentum
        self.teacher.update_parameters(self.student)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        return dict(loss=(self.student(x) - 1.0).pow(2).mean())


class _Record(Hook):
    priority = 'LOW'

    def __init__(self):
        self.student = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.student.append(
            [p.detach().clone() for p in runner.model.student.parameters()])


def test_schedule_endpoints():
    hook = TeacherEMAHook()
    assert hook.momentum(0, 20000) == pytest.approx(0.9995)
    assert hook.momentum(20000, 20000) == 1.0
    assert hook.momentum(10000, 20000) == pytest.approx(0.99975)
    short = TeacherEMAHook(momentum_iters=100)
    assert short.momentum(150, 20000) == 1.0
    # the model's fsr_iters sets the length; momentum_iters overrides it
    cos = 1.0 + 0.5 * (0.9995 - 1.0) * (1 + math.cos(math.pi * 99 / 100))
    assert hook.momentum(99, 20000, fsr_iters=100) == pytest.approx(cos)
    assert hook.momentum(100, 20000, fsr_iters=100) == 1.0
    assert short.momentum(99, 20000, fsr_iters=5) == pytest.approx(cos)


def test_teacher_follows_ema_after_each_step(tmp_path):
    model = _Toy()
    teacher0 = [p.detach().clone() for p in model.student.parameters()]
    record = _Record()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=_Data(), sampler=dict(type='DefaultSampler',
                                          shuffle=False),
            batch_size=2, num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        custom_hooks=[
            dict(type=TeacherEMAHook, base_momentum=0.5, momentum_iters=4),
            record
        ],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=3, by_epoch=False)),
        default_scope='wsss_mm')
    runner.train()
    expected = teacher0
    for it, student in enumerate(record.student):
        m = 1.0 + 0.5 * (0.5 - 1.0) * (1 + math.cos(math.pi * it / 4))
        expected = [m * t + (1 - m) * s for t, s in zip(expected, student)]
    got = list(model.teacher.module.parameters())
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)
    # the teacher moved away from both its start and the student
    assert not torch.allclose(got[0], teacher0[0])
    assert not torch.allclose(got[0], record.student[-1][0])
    # the checkpoint saved at iteration 3 holds the updated teacher
    ckpt = torch.load(str(tmp_path / 'iter_3.pth'), weights_only=False)
    torch.testing.assert_close(ckpt['state_dict']['teacher.module.weight'],
                               got[0])
    assert runner.message_hub.get_scalar(
        'train/teacher_momentum').current() == pytest.approx(
            1.0 + 0.5 * (0.5 - 1.0) * (1 + math.cos(math.pi * 2 / 4)))


class _RecordTeacher(Hook):
    priority = 'LOW'  # after TeacherEMAHook (NORMAL)

    def __init__(self):
        self.momenta, self.teacher = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.momenta.append(runner.message_hub.get_scalar(
            'train/teacher_momentum').current())
        self.teacher.append(
            [p.detach().clone() for p in runner.model.teacher.parameters()])


def test_model_fsr_iters_sets_schedule_then_freezes(tmp_path):
    """A model with fsr_iters=2 in a 3-iteration run: cosine over 2
    iterations (0.5, 0.75), then momentum 1.0 at iteration 2 (frozen)."""
    model = _Toy()
    model.fsr_iters = 2
    record = _RecordTeacher()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=_Data(), sampler=dict(type='DefaultSampler',
                                          shuffle=False),
            batch_size=2, num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        custom_hooks=[dict(type=TeacherEMAHook, base_momentum=0.5), record],
        default_hooks=dict(checkpoint=None),
        default_scope='wsss_mm')
    runner.train()
    assert record.momenta == [0.5, 0.75, 1.0]
    for before, after in zip(record.teacher[1], record.teacher[2]):
        assert torch.equal(before, after)
    assert not torch.equal(record.teacher[0][0], record.teacher[1][0])
