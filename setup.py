"""Installation script of wsss_mm."""
import os.path as osp
import re
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HOOK_PTH = 'wsss_mm-import-hook.pth'

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    """Read ``__version__`` from ``wsss_mm/version.py`` without importing."""
    with open(osp.join(HERE, 'wsss_mm', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname: str) -> list:
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r'):
                sub = osp.join(osp.dirname(fname), line[2:].strip())
                reqs.extend(parse_requirements(sub))
            else:
                reqs.append(line)
    return reqs


class BuildPyWithImportHook(build_py):
    """Also put ``wsss_mm-import-hook.pth`` at the root of site-packages.

    The .pth line installs :mod:`wsss_mm_import_hook` at interpreter start,
    so that ``import mmseg.models`` before ``import wsss_mm`` works and
    mmseg's stock tools read ``mmseg::`` config bases (see the module).
    """

    def run(self):
        super().run()
        self.copy_file(
            osp.join(HERE, HOOK_PTH), osp.join(self.build_lib, HOOK_PTH),
            preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            osp.join(self.build_lib, HOOK_PTH)
        ]


setup(
    name='wsss_mm',
    version=read_version(),
    description='Weakly supervised semantic segmentation toolkit on '
    'OpenMMLab 2.x (APC, ViT-PCM, FSR/ToCo, IAA, diffusion-synthetic)',
    long_description=open(
        osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools',
                                    'projects', 'benchmarks')),
    py_modules=['wsss_mm_import_hook'],
    cmdclass={'build_py': BuildPyWithImportHook},
    python_requires='>=3.9',
    # Version ranges live here (not in import-time asserts); the pinned set
    # verified together is requirements/runtime.txt.
    install_requires=[
        'torch>=2.0',
        'mmengine>=0.10.0,<0.11.0',
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmsegmentation>=1.2.0,<1.3.0',
        'mmpretrain>=1.2.0,<1.3.0',
        'numpy',
        'opencv-python',
        'ftfy',
        'regex',
    ],
    extras_require={
        'crf': ['pydensecrf2'],
        'generation': ['diffusers', 'transformers', 'peft', 'openai'],
        'tests': parse_requirements('requirements/tests.txt'),
    },
    zip_safe=False,
)
