"""The published numbers the tables are measured against (REFERENCE.md section 4), as data.

Each entry: (table, row, dataset, metric, value, std or None, source). Datasets are the benchmark's names of the
ground truth the paper correlated with.
"""
from __future__ import annotations

from typing import NamedTuple


class Published(NamedTuple):
    table: str
    row: str
    dataset: str
    metric: str
    value: float
    std: float | None
    source: str


_ZC = "Abdelfattah et al. 2021 (zero-cost proxies), Spearman over all cells"
_ZERO_COST = {"synflow": (0.737, 0.763, 0.751), "jacob_cov": (0.731, 0.704, 0.701), "snip": (0.596, 0.637, 0.578),
              "grad_norm": (0.594, 0.637, 0.578), "grasp": (0.514, 0.547, 0.549), "fisher": (0.360, 0.385, 0.327)}
_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_NB201 = ("Dong & Yang 2020 (NAS-Bench-201), test accuracy of the search's pick under its scripts' protocol "
          "(x-valid@12 of a random seed, 12,000 s), mean +- std")
_SEARCH = {"random": ((93.70, 0.36), (71.04, 1.07), (44.57, 1.25)),
           "REA": ((93.92, 0.30), (71.84, 0.99), (45.54, 1.03))}

_ABS = "Hu et al. 2020 (ABS), Kendall tau over all cells, mean +- std over 10 supernet seeds"
_ABS_ROWS = {"random": ((-0.002, 0.006), (-0.001, 0.004), (0.003, 0.002)),
             "supernet_acc": ((0.041, 0.037), (0.052, 0.021), (0.069, 0.018)),
             "rebn": ((0.540, 0.052), (0.525, 0.043), (0.538, 0.023)),
             "angle": ((0.575, 0.002), (0.604, 0.002), (0.545, 0.002))}

PUBLISHED: tuple[Published, ...] = tuple(
    [Published("abs-correlation", row, d, "kendall_tau", v, s, _ABS)
     for row, values in _ABS_ROWS.items() for d, (v, s) in zip(_DATASETS, values)] + 
    [Published("zero-cost", proxy, d, "spearman_rho", v, None, _ZC)
     for proxy, values in _ZERO_COST.items() for d, v in zip(_DATASETS, values)]
    + [Published("weaknas", method, d, "best_test", v, s, _NB201)
       for method, values in _SEARCH.items() for d, (v, s) in zip(_DATASETS, values)]
    + [Published("econas", "c=4 r=8 s=1 e=10", "cifar10", "spearman_rho", 0.61, None,
                 "Abdelfattah et al. 2021, EcoNAS proxy baseline")]
    + [Published("eps-top20", "EPS", "cifar10", "best_test", 94.34, 0.04,
                 "EPS, test accuracy of the pick on NB201 (REFERENCE.md section 4)")]
    + [Published("weaknas", "optimum", d, "best_test", v, None, "NAS-Bench-201 table")
       for d, v in zip(_DATASETS, (94.37, 73.51, 47.31))]
)


def published(table: str, row: str, dataset: str, metric: str) -> Published | None:
    """The published number for one measured row, if the papers give one."""
    for entry in PUBLISHED:
        if (entry.table, entry.row, entry.dataset, entry.metric) == (table, row, dataset, metric):
            return entry
    return None
