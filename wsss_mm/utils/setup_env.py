"""Module registration for configs with ``default_scope='wsss_mm'``."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every package that registers parts reachable from wsss_mm.

    Walking up from a child registry to its parent does not import the
    parent's lazy ``locations``, so mmseg's packages are imported here too;
    mmpretrain's models are imported so ``mmpretrain.X`` types resolve.

    Args:
        init_default_scope (bool): Set the default scope to ``wsss_mm``.
    """
    import mmpretrain.models  # noqa: F401,F403
    import mmseg.datasets  # noqa: F401,F403
    import mmseg.engine  # noqa: F401,F403
    import mmseg.evaluation  # noqa: F401,F403
    import mmseg.models  # noqa: F401,F403
    import mmseg.visualization  # noqa: F401,F403

    import wsss_mm.datasets  # noqa: F401,F403
    import wsss_mm.engine  # noqa: F401,F403
    import wsss_mm.evaluation  # noqa: F401,F403
    import wsss_mm.models  # noqa: F401,F403
    import wsss_mm.visualization  # noqa: F401,F403

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('wsss_mm')
        if never_created:
            DefaultScope.get_instance('wsss_mm', scope_name='wsss_mm')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'wsss_mm':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "wsss_mm", '
                          '`register_all_modules` will force the current'
                          'default scope to be "wsss_mm". If this is not '
                          'expected, please set `init_default_scope=False`.')
            new_instance_name = f'wsss_mm-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='wsss_mm')
