"""Every config under configs/ (and the plugin's) builds its model and its
datasets; method configs keep the published settings."""
import copy
import glob
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from wsss_test_utils import REPO_ROOT, shared_or_skip

from wsss_mm.registry import DATASETS, MODELS

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p) + sorted(
        glob.glob(osp.join(REPO_ROOT, 'projects', '*', 'configs', '*.py')))
# Generation configs (tools/generate_*.py) have no model: built below.
GEN_CONFIGS = [p for p in CONFIGS if osp.basename(p).startswith('generate_')]
CONFIGS = [p for p in CONFIGS if p not in GEN_CONFIGS]


# The plugin package is importable the way its README says (PYTHONPATH).
for _plugin in glob.glob(osp.join(REPO_ROOT, 'projects', '*')):
    if _plugin not in sys.path:
        sys.path.insert(0, _plugin)


def _ids(paths):
    return [osp.relpath(p, REPO_ROOT) for p in paths]


def _shrink_backbone(model_cfg):
    """Same structure, tiny widths: building ViT-B on CPU for every config
    would dominate the suite without testing anything more."""
    bb = model_cfg.get('backbone')
    if bb and bb.get('type') == 'FrozenFeatureCache':
        bb['cache_file'] = None  # the test writes nothing
        bb = bb['backbone']
    if bb and bb.get('type') == 'WSSSVisionTransformer':
        bb['arch'] = dict(
            embed_dims=32, num_layers=max(bb['out_indices']) + 1,
            num_heads=2, feedforward_channels=64)
        bb['init_cfg'] = None
        for key in ('neck', ):
            if model_cfg.get(key):
                model_cfg[key]['in_channels'] = 32
                model_cfg[key]['hidden_channels'] = 8
        model_cfg['cls_head']['in_channels'] = 32
        if model_cfg.get('decode_head'):
            n = len(model_cfg['decode_head']['in_channels'])
            model_cfg['decode_head']['in_channels'] = [32] * n
    if bb and bb.get('type') == 'ToCoVisionTransformer':
        # ToCo/FSR: heads take their widths from the backbone
        bb['arch'] = dict(embed_dims=32, num_layers=3, num_heads=2,
                          feedforward_channels=64)
        bb['init_cfg'] = None
        model_cfg['decode_head']['channels'] = 16
        if model_cfg.get('ctc'):
            model_cfg['ctc']['projector'].update(
                hidden_channels=32, bottleneck_channels=16, out_channels=32)
        if model_cfg.get('projector'):  # FSR
            model_cfg['projector'].update(
                hidden_channels=32, bottleneck_channels=16, out_channels=32)
    return model_cfg


def _data_root_for(ds_cfg, demo_root, minicoco_root_factory,
                   diffsyn_fixture=None):
    kind = ds_cfg['type']
    if kind in ('DiffSynDataset', 'ImageFolderDataset', 'CityscapesDataset',
                'ImageNetSDataset'):
        return diffsyn_fixture(kind)
    # Second-stage configs (mmseg datasets on pseudo masks): the demo's
    # masks stand in for the pseudo masks.
    if kind in ('VOCWSSSDataset', 'DemoShapesDataset', 'BaseSegDataset',
                'PascalVOCDataset'):
        split = 'val.txt' if ds_cfg.get('test_mode') else 'train.txt'
        return dict(
            data_root=demo_root,
            ann_file=f'ImageSets/Segmentation/{split}',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'))
    if kind == 'COCOWSSSDataset':
        root = minicoco_root_factory()
        split = 'val' if ds_cfg.get('test_mode') else 'train'
        return dict(
            data_root=root,
            ann_file=f'{split}.txt',
            data_prefix=dict(
                img_path=f'images/{split}',
                seg_map_path=f'annotations/{split}'),
            classes_file='classes.json')
    if kind == 'CamVidTilesDataset':
        return dict(data_root=shared_or_skip('camvid'))
    if kind == 'SyntheticWSSSDataset':  # a generation store (IAA)
        return dict(data_root=_synthetic_store())
    raise AssertionError(f'no test data for dataset type {kind}')


_STORES = []


def _synthetic_store():
    """A small generation store (labels 1..3) written once per session."""
    if not _STORES:
        import tempfile

        from generation_test_utils import FakeProducer, fake_items

        from wsss_mm.generation import GenerationStore, run_generation
        root = tempfile.mkdtemp(prefix='wsss_synthetic_store_')
        run_generation(fake_items(3, 1), FakeProducer(),
                       GenerationStore(root), log_interval=60.)
        _STORES.append(root)
    return _STORES[0]


def _with_data_roots(ds_cfg, demo_root, minicoco_root_factory,
                     diffsyn_fixture=None):
    """``ds_cfg`` pointed at test data (ConcatDataset: every part)."""
    if ds_cfg['type'] == 'ConcatDataset':
        ds_cfg['datasets'] = [
            _with_data_roots(d, demo_root, minicoco_root_factory,
                             diffsyn_fixture) for d in ds_cfg['datasets']
        ]
        return ds_cfg
    ds_cfg.update(_data_root_for(ds_cfg, demo_root, minicoco_root_factory,
                                 diffsyn_fixture))
    return ds_cfg


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds_model(path, request):
    cfg = Config.fromfile(path)
    if 'model' not in cfg:  # a generation config (diffsyn, IAA)
        assert 'generator' in cfg, f'{path}: neither model nor generator'
        pytest.skip('generation config: run end to end by its tool test')
    if cfg.model.type == 'StableDiffusionLoRA':  # no predict: a loss step
        tiny = request.getfixturevalue('tiny_diffusion')
        model = MODELS.build(dict(cfg.model, sd_model=tiny['sd_model']))
        batch = model.data_preprocessor(
            dict(inputs=[torch.randint(0, 255, (3, 64, 64),
                                       dtype=torch.uint8)]), True)
        loss = model(**batch, mode='loss')['loss']
        assert torch.isfinite(loss) and loss.requires_grad
        return
    model = MODELS.build(_shrink_backbone(copy.deepcopy(cfg.model)))
    model.eval()
    nc = model.num_classes
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = model.predict(x)
    assert out[0].seg_logits.data.shape == (nc, 64, 64)
    assert int(out[0].pred_sem_seg.data.max()) < nc


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds_datasets(path, demo_root, request):
    cfg = Config.fromfile(path)

    def minicoco():
        return request.getfixturevalue('minicoco_root')

    def diffsyn(kind):
        from diffsyn_test_utils import diffsyn_data_root
        return diffsyn_data_root(kind, demo_root,
                                 request.getfixturevalue('tmp_path'))

    if 'model' not in cfg:
        pytest.skip('generation config: run end to end by its tool test')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(key):
            continue  # e.g. LoRA training has no validation
        ds_cfg = _with_data_roots(
            copy.deepcopy(cfg[key]['dataset']), demo_root, minicoco, diffsyn)
        ds = DATASETS.build(ds_cfg)
        assert len(ds) > 0
        sample = ds[0]
        labels = sample['data_samples'].gt_image_labels \
            if 'gt_image_labels' in sample['data_samples'] else None
        weak = cfg.model.type in ('PatchClassifierSegmentor', 'ToCo', 'FSR')
        if ds_cfg['type'] == 'ImageFolderDataset':  # unlabelled images
            assert 'gt_sem_seg' not in sample['data_samples']
        elif key == 'train_dataloader' and weak:
            # Image labels only: no pixel ground truth reaches the model.
            assert labels is not None and labels.sum() > 0
            assert 'gt_sem_seg' not in sample['data_samples']
        else:
            assert 'gt_sem_seg' in sample['data_samples']


def test_primary_apc_config_settings():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/apc/apc_vitb_voc.py'))
    m = cfg.model
    assert m.backbone.arch == 'b' and m.backbone.patch_size == 16
    assert m.backbone.img_size == 384
    assert m.backbone.init_cfg.type == 'Pretrained'
    assert m.cls_head.pooling == dict(
        type='AdaptiveKPool', k_max=6, gap=0.1, mode='gap')
    assert m.cls_head.loss_contrast.high_thr == 0.85
    # PCL's low-confidence set: the paper's single lowest patch.
    assert m.cls_head.loss_contrast.low_ratio is None
    assert m.cls_head.loss_contrast.loss_weight == 0.02
    assert m.decode_head.loss_decode.loss_weight == 0.01
    assert cfg.train_dataloader.batch_size == 8  # x 2 GPUs = 16
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    sizes = [t.get('scale') for t in cfg.test_pipeline if t['type'] ==
             'Resize']
    assert sizes == [(960, 960)]
    assert cfg.runner_type == 'wsss_mm.WSSSRunner'
    assert cfg.default_scope == 'wsss_mm'
    # COCO: the paper's maximum of 50 epochs (5,130 iterations each).
    coco = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/apc/apc_vitb_coco.py'))
    assert coco.train_cfg.max_iters == 50 * 5130
    assert coco.model.cls_head.loss_contrast.low_ratio is None


def test_missing_pretrained_file_says_how_to_get_it(tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/apc/apc_vitb_voc.py'))
    bb = copy.deepcopy(cfg.model.backbone)
    bb.arch = dict(embed_dims=32, num_layers=2, num_heads=2,
                   feedforward_channels=64)
    bb.out_indices = (1, )
    bb.init_cfg.checkpoint = str(tmp_path / 'vit-b16.pth')
    backbone = MODELS.build(bb)
    with pytest.raises(FileNotFoundError) as err:
        backbone.init_weights()
    assert 'vit-b16.pth' in str(err.value)
    assert 'timm_vit_to_mmpretrain.py' in str(err.value)
    bb.init_cfg.checkpoint = 'https://example.org/vit.pth'
    with pytest.raises(ValueError, match='nothing is downloaded'):
        MODELS.build(bb).init_weights()


@pytest.mark.parametrize(
    'path', [p for p in GEN_CONFIGS if '/iaa/' in p],
    ids=_ids([p for p in GEN_CONFIGS if '/iaa/' in p]))
def test_iaa_generation_config_builds(path, demo_root, tiny_diffusion,
                                      tmp_path):
    """Source dataset, prompter, generator and filter of an IAA config."""
    from iaa_test_utils import write_filter_checkpoint

    from wsss_mm.generation.iaa import build_source_dataset, source_records
    from wsss_mm.registry import GENERATORS
    cfg = Config.fromfile(path)
    ds = build_source_dataset(dict(cfg.source, data_root=demo_root))
    assert len(source_records(ds)) == len(ds) > 0
    prompter = GENERATORS.build(cfg.prompter)
    assert prompter.prompts_for_class('circle')
    gen = GENERATORS.build(
        dict(cfg.generator, sd_model=tiny_diffusion['sd_model'],
             controlnet_model=tiny_diffusion['controlnet_model']))
    assert gen.num_inference_steps == cfg.generator.num_inference_steps
    ckpt = write_filter_checkpoint(str(tmp_path / 'f.pth'))
    filt = GENERATORS.build(dict(cfg.filter, checkpoint=ckpt))
    assert filt.max_tries == cfg.filter.max_tries


DIFFSYN_GEN_CONFIGS = [
    p for p in GEN_CONFIGS if osp.basename(osp.dirname(p)) == 'diffsyn'
]


@pytest.mark.parametrize(
    'path', DIFFSYN_GEN_CONFIGS, ids=_ids(DIFFSYN_GEN_CONFIGS))
def test_diffsyn_generation_config_builds(path, tiny_diffusion):
    """Prompt augmenter and generator of a diffusion-synthetic config."""
    from wsss_mm.registry import GENERATORS
    cfg = Config.fromfile(path)
    bank = GENERATORS.build(cfg.prompts)(cfg.classes, 2)
    assert sorted(bank) == sorted(cfg.classes)
    assert all(r['synonym'] in r['prompt'] for v in bank.values()
               for r in v)
    gen = GENERATORS.build(
        dict(cfg.generator, sd_model=tiny_diffusion['sd_model'], lora=None,
             resolution=64))
    assert gen.num_inference_steps == cfg.generator.num_inference_steps
    assert gen.extractor.rule == cfg.generator.mask.rule


def test_vitpcm_recipe_frozen_epoch_then_last_five_blocks():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/vitpcm/vitpcm_vitb_voc.py'))
    hooks = [h for h in cfg.custom_hooks
             if h['type'] == 'BackboneUnfreezeHook']
    assert hooks == [
        dict(type='BackboneUnfreezeHook', frozen_iters=662, unfreeze_last=5)
    ]
    assert cfg.param_scheduler[0]['milestones'] == [662]
    assert cfg.train_cfg.max_iters == 80 * 662
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert 'custom_keys' not in cfg.optim_wrapper.get('paramwise_cfg', {})
    # ViT-PCM's equivariance target is predicted with dropout off; APC's
    # configs have no equivariance loss
    assert cfg.model.equivariance.target_without_dropout is True
    apc = Config.fromfile(osp.join(REPO_ROOT, 'configs/apc/apc_vitb_voc.py'))
    assert apc.model.get('equivariance') is None
