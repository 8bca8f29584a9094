"""Search-space shrinking driven by proxies (above the proxies and the trainer, below reports and the CLI).

ABS drops operators stage by stage; EPS and AutoSpace evolve a population of cells that a supernet trains inside.
"""
from harness.shrink.abs_shrinking import ShrinkSettings, allowed_lists, shrink_abs
from harness.shrink.autospace import AutoSpaceSettings, fitness_objective, run_autospace
from harness.shrink.eps import EpsSettings, load_eps_model, run_eps
from harness.shrink.top20 import batch_stat_scorer, eps_top20

__all__ = ["AutoSpaceSettings", "EpsSettings", "ShrinkSettings", "allowed_lists", "batch_stat_scorer", "eps_top20",
           "fitness_objective", "load_eps_model", "run_autospace", "run_eps", "shrink_abs"]
