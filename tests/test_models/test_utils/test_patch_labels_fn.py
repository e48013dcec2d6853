import pytest
import torch

from wsss_mm.models.utils import patch_to_pixel_labels


def _grid_scores():
    # 1 image, 3 classes, 2x2 patch grid; per patch (top-left, top-right,
    # bottom-left, bottom-right) the scores of classes 0, 1, 2.
    per_patch = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.1, 0.7],
                              [0.3, 0.5, 0.2], [0.1, 0.45, 0.45]])
    return per_patch.t().reshape(1, 3, 2, 2)


def test_argmax_painted_onto_patches():
    labels = patch_to_pixel_labels(_grid_scores(), torch.tensor([[1, 1, 1]]),
                                   (4, 6))
    # Unrestricted argmax per patch: 0, 2 / 1, 1 (first of the tie 1=2).
    expected = torch.tensor([[0, 0, 0, 2, 2, 2], [0, 0, 0, 2, 2, 2],
                             [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    assert labels.dtype == torch.long
    assert torch.equal(labels, expected[None])


def test_absent_classes_never_win():
    # Class 2 absent: the top-right patch falls back to class 0.
    labels = patch_to_pixel_labels(_grid_scores(), torch.tensor([[1, 1, 0]]),
                                   (2, 2))
    assert torch.equal(labels, torch.tensor([[[0, 0], [1, 1]]]))
    # Only class 1 present: every patch is class 1, however low.
    labels = patch_to_pixel_labels(_grid_scores(), torch.tensor([[0, 1, 0]]),
                                   (2, 2))
    assert torch.equal(labels, torch.ones(1, 2, 2, dtype=torch.long))


def test_ignore_threshold():
    labels = patch_to_pixel_labels(
        _grid_scores(),
        torch.tensor([[1, 1, 0]]), (2, 2),
        ignore_thr=0.5,
        ignore_index=255)
    # Restricted maxima: 0.6, 0.2, 0.5, 0.45 -> 0.2 and 0.45 are ignored,
    # 0.5 is kept (below, not at, the threshold is ignored).
    assert torch.equal(labels, torch.tensor([[[0, 255], [1, 255]]]))


def test_image_without_labels_is_ignored():
    scores = _grid_scores().repeat(2, 1, 1, 1)
    labels = patch_to_pixel_labels(
        scores, torch.tensor([[1, 1, 1], [0, 0, 0]]), (4, 4), ignore_index=100)
    assert (labels[1] == 100).all()
    assert (labels[0] != 100).all()


def test_nearest_resize_non_integer_ratio():
    # 3 patches onto 4 pixels: pixel centres 0.375, 1.125, 1.875, 2.625 in
    # patch units fall into patches 0, 1, 1, 2.
    scores = torch.eye(3).reshape(1, 3, 1, 3)
    labels = patch_to_pixel_labels(scores, torch.ones(1, 3), (1, 4))
    assert torch.equal(labels, torch.tensor([[[0, 1, 1, 2]]]))


def test_shape_checks():
    with pytest.raises(ValueError):
        patch_to_pixel_labels(torch.rand(3, 2, 2), torch.ones(1, 3), (4, 4))
    with pytest.raises(ValueError):
        patch_to_pixel_labels(torch.rand(1, 3, 2, 2), torch.ones(1, 4), (4, 4))
