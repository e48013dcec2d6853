from setuptools import find_packages, setup

setup(
    name='wsss_mm_example_plugin',
    version='0.1.0',
    description='Example third-party part for wsss_mm (LogSumExp pooling)',
    packages=find_packages(exclude=('tests', 'configs')),
    install_requires=['wsss_mm'],
)
