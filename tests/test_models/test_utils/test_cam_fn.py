"""CAM functions (ToCo) against hand-computed tensors."""
import pytest
import torch
import torch.nn.functional as F

from wsss_mm.models.utils import (box_mask, cam_to_label, cam_to_roi_mask,
                                  minmax_normalize_cam, multi_scale_cam,
                                  pixel_adaptive_refine,
                                  refine_cams_with_background)


def test_minmax_normalize_cam():
    cam = torch.tensor([[[[2., 4.], [6., 10.]]]])
    out = minmax_normalize_cam(cam)
    expected = torch.tensor([[[[0., 2.], [4., 8.]]]]) / (8 + 1e-5)
    assert torch.allclose(out, expected)


def test_multi_scale_cam_flip_pair_is_max_and_normalised():
    """cam_fn multiplies by a left-to-right ramp: the flip pair gives
    max(ramp, flipped ramp) = [1, 2/3, 2/3, 1], normalised [1, 0, 0, 1]."""
    ramp = torch.tensor([0., 1 / 3, 2 / 3, 1.])

    def cam_fn(x):
        return x[:, :1] * ramp[:x.shape[-1]]

    x = torch.ones(1, 3, 4, 4)
    cam = multi_scale_cam(cam_fn, x, scales=(1.0, ))
    expected = torch.tensor([1., 0., 0., 1.]) * (1 / 3) / (1 / 3 + 1e-5)
    assert cam.shape == (1, 1, 4, 4)
    assert torch.allclose(cam[0, 0], expected.expand(4, 4), atol=1e-6)


def test_multi_scale_cam_scales_relu_sum_and_tuple():
    """cam_fn lights the top-left 2x2 cell at 4 px and the bottom-left one
    at 2 px (nothing at 6 px). Resized back (bilinear) they are
    r (x) r and flip(r) (x) r with r = [1, .75, .25, 0]; the flip pair's
    max gives r (x) q and flip(r) (x) q, q = [1, .75, .75, 1]; their SUM
    is 1 (x) q, normalised [1, 0, 0, 1] on every row (a max over scales
    would vary over rows). The second output is negative and killed by
    ReLU; the inputs seen are 4, 2 and 6 px, each with its flip."""
    x = torch.rand(1, 3, 4, 4)
    sizes = []

    def cam_fn(inp):
        sizes.append(tuple(inp.shape))
        m = torch.zeros(inp.shape[0], 1, 2, 2)
        if inp.shape[-1] == 4:
            m[:, 0, 0, 0] = 1
        elif inp.shape[-1] == 2:
            m[:, 0, 1, 0] = 1
        return m, -m - 1

    cam, neg = multi_scale_cam(cam_fn, x, scales=(1.0, 0.5, 1.5))
    assert sizes == [(2, 3, 4, 4), (2, 3, 2, 2), (2, 3, 6, 6)]
    cols = torch.tensor([1., 0., 0., 1.]) * .25 / (.25 + 1e-5)
    assert torch.allclose(cam[0, 0], cols.expand(4, 4), atol=1e-5)
    assert torch.all(neg == 0)
    # one scale, a single tensor: r (x) q normalised
    cam = multi_scale_cam(lambda inp: cam_fn(inp)[0], x, scales=(1.0, ))
    r = torch.tensor([1., .75, .25, 0.])
    q = torch.tensor([1., .75, .75, 1.])
    assert torch.allclose(cam[0, 0], r[:, None] * q / (1 + 1e-5),
                          atol=1e-5)


def test_cam_to_label_toco_rule():
    cam = torch.tensor([[[[.9, .6, .3, .1, .8]], [[.2, .65, .4, .05,
                                                    .95]]]])
    one = torch.tensor([[1., 0.]])
    both = torch.tensor([[1., 1.]])
    kw = dict(bkg_thr=.5, high_thr=.7, low_thr=.25)
    assert cam_to_label(cam, one, **kw).tolist() == [[[1, 1, 0, 0, 1]]]
    assert cam_to_label(cam, both, **kw).tolist() == [[[1, 2, 0, 0, 2]]]
    # ignore_mid only applies with img_box (ToCo returns early without)
    assert cam_to_label(cam, one, ignore_mid=True,
                        **kw).tolist() == [[[1, 1, 0, 0, 1]]]
    box = torch.tensor([[0, 1, 0, 4]])
    out = cam_to_label(cam, one, ignore_mid=True, img_box=box, **kw)
    assert out.tolist() == [[[1, 255, 255, 0, 255]]]
    out = cam_to_label(cam, one, img_box=box, ignore_index=7, **kw)
    assert out.tolist() == [[[1, 1, 0, 0, 7]]]
    assert out.dtype == torch.long


def test_cam_to_label_without_background():
    cam = torch.tensor([[[[.9, .6, .3, .1, .8]], [[.2, .65, .4, .05,
                                                    .95]]]])
    both = torch.tensor([[1., 1.]])
    out = cam_to_label(cam, both, bkg_thr=.5, with_background=False)
    assert out.tolist() == [[[0, 1, 1, 0, 1]]]
    out = cam_to_label(cam, torch.tensor([[0., 1.]]), None,
                       with_background=False)
    assert out.tolist() == [[[1, 1, 1, 1, 1]]]
    box = torch.tensor([[0, 1, 0, 5]])
    out = cam_to_label(cam, both, None, high_thr=.7, ignore_mid=True,
                       img_box=box, with_background=False)
    assert out.tolist() == [[[0, 255, 255, 255, 1]]]


def test_cam_to_roi_mask():
    cam = torch.tensor([[[[.9, .6, .3, .1, .8]], [[1., 1., 1., 1., 1.]]]])
    roi = cam_to_roi_mask(cam, torch.tensor([[1., 0.]]), .7, .25)
    assert roi.tolist() == [[[2, 1, 1, 0, 2]]]


def test_box_mask():
    m = box_mask(torch.tensor([[1, 3, 0, 2]]), (4, 3))
    expected = [[0, 0, 0], [1, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert m[0].int().tolist() == expected


def test_refine_cams_with_background_combines_high_and_low():
    """Identity refinement at full size: CAM .9 -> class (both agree),
    .5 -> ignored (high says background, low says class), .1 ->
    background; an absent class never wins; outside the box ignored."""
    cam = torch.tensor([.9, .5, .1, .9]).view(1, 1, 1, 4).repeat(1, 1, 2, 1)
    absent = torch.full_like(cam, 5.)
    cams = torch.cat([absent, cam], dim=1)  # class 0 absent, class 1 here
    label = torch.tensor([[0., 1.]])
    images = torch.rand(1, 3, 2, 4)
    calls = []

    def identity(img, probs):
        calls.append((tuple(img.shape), tuple(probs.shape)))
        return probs

    out = refine_cams_with_background(
        identity, images, cams, label, high_thr=.7, low_thr=.25,
        img_box=torch.tensor([[0, 2, 0, 3]]), down_scale=1)
    assert out[0].tolist() == [[2, 255, 0, 255], [2, 255, 0, 255]]
    # background + the one present class only
    assert calls == [((1, 3, 2, 4), (1, 2, 2, 4))] * 2


def _per_image_reference(refine_fn, images, cams, cls_label, high_thr,
                         low_thr, ignore_index, img_box, down_scale,
                         with_background):
    """The loop over images that refine_cams_with_background ran before it
    refined the whole batch at once (kept to check that the batched
    version gives the same labels)."""
    b, _, h, w = images.shape
    small = (h // down_scale, w // down_scale)
    images = F.interpolate(images, size=small, mode='bilinear',
                           align_corners=False)
    inside = box_mask(img_box, (h, w))

    def refine_one(image, maps, key):
        probs = maps[key][None].softmax(dim=1)
        refined = F.interpolate(refine_fn(image, probs), size=(h, w),
                                mode='bilinear', align_corners=False)
        return key[refined.argmax(dim=1)][0]

    if not with_background:
        cams = F.interpolate(cams, size=small, mode='bilinear',
                             align_corners=False)
        out = torch.full((b, h, w), ignore_index, dtype=torch.long)
        for i in range(b):
            key = torch.nonzero(cls_label[i])[:, 0]
            if key.numel():
                ref = refine_one(images[i:i + 1], cams[i], key)
                out[i] = torch.where(inside[i], ref, out[i])
        return out
    labels = torch.cat([cls_label.new_ones(b, 1), cls_label], dim=1)
    bkg = cams.new_ones(b, 1, h, w)
    label_hl = []
    for thr in (high_thr, low_thr):
        maps = F.interpolate(torch.cat([bkg * thr, cams], dim=1), size=small,
                             mode='bilinear', align_corners=False)
        out = torch.full((b, h, w), ignore_index, dtype=torch.long)
        for i in range(b):
            key = torch.nonzero(labels[i])[:, 0]
            ref = refine_one(images[i:i + 1], maps[i], key)
            out[i] = torch.where(inside[i], ref, out[i])
        label_hl.append(out)
    label_h, label_l = label_hl
    refined = label_h.clone()
    refined[label_h == 0] = ignore_index
    refined[(label_h + label_l) == 0] = 0
    return refined


@pytest.mark.parametrize('with_background', [True, False])
def test_refine_cams_batched_equals_per_image_loop(with_background):
    """The batch refined at once (images with fewer present classes padded
    with zero maps) gets the labels of the former one-image-at-a-time loop,
    with PAR."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(7, 3, 16, 20, generator=g)
    cams = torch.rand(7, 5, 16, 20, generator=g)
    cls_label = (torch.rand(7, 5, generator=g) < 0.5).float()
    cls_label[0] = 0  # no class (ignored without background)
    cls_label[1] = 1
    cls_label[2] = torch.tensor([0., 1., 0., 0., 0.])
    cams = cams * cls_label[:, :, None, None]
    img_box = torch.tensor([[0, 16, 0, 20]] * 6 + [[2, 14, 1, 17]])

    def refine(img, probs):
        return pixel_adaptive_refine(img, probs, (1, 2, 4), num_iter=3)

    args = (refine, images, cams, cls_label, .7, .25, 255, img_box, 2,
            with_background)
    expected = _per_image_reference(*args)
    got = refine_cams_with_background(*args)
    assert torch.equal(got, expected)
    assert (got == 255).any() and (got != 255).any()
