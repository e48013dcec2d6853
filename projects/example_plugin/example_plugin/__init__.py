from .lse_pool import LogSumExpPool, log_sum_exp_pool

__all__ = ['LogSumExpPool', 'log_sum_exp_pool']
