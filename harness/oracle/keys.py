"""Names of ground-truth values: which metric, on which dataset and split, after which training schedule.

Column names in the cache and in plain tables:
- `[METRIC:]DATASET/SPLIT@HP[:seed=S]`, e.g. `cifar10/ori-test@200` (accuracy, mean over seeds) or
  `loss:cifar10-valid/x-valid@12:seed=777`; METRIC defaults to `accuracy`. `seconds` is the benchmark's recorded
  wall time of one epoch: training on split `train` (`train_times`), evaluating on the others (`eval_times`).
- `curve:METRIC:DATASET/SPLIT@HP:seed=S`: the per-epoch values of one seed (cache only).
- `params_mb@DATASET`, `flops_m@DATASET`, `latency_s@DATASET`: the network's cost on that dataset's head and input size.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import SourceError

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: the images each dataset's networks see: cifar10-valid and cifar10 are both CIFAR-10 (trained on half of its
#: training set or on all of it), so a proxy scored on either may be judged against either
IMAGES = {"cifar10-valid": "CIFAR-10", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
          "ImageNet16-120": "ImageNet16-120"}
SPLITS = ("train", "x-valid", "x-test", "ori-test")
METRICS = ("accuracy", "loss", "seconds")
#: cost metric -> column prefix carrying its unit
COSTS = {"params": "params_mb", "flops": "flops_m", "latency": "latency_s"}

_SERIES_RE = re.compile(r"^(?:(?P<metric>[a-z]+):)?(?P<dataset>[^/:@]+)/(?P<split>[^/:@]+)@(?P<hp>\d+)"
                        r"(?::seed=(?P<seed>\d+))?$")
_COST_RE = re.compile(r"^(?P<prefix>[a-z_]+)@(?P<dataset>[^/:@]+)$")
GRAMMAR = "[METRIC:]DATASET/SPLIT@HP[:seed=S] or params_mb@DATASET, flops_m@DATASET, latency_s@DATASET"


@dataclass(frozen=True, order=True)
class SeriesKey:
    """One trained quantity: a metric of the models trained on `dataset` with the `hp`-epoch schedule, on `split`."""

    metric: str
    dataset: str
    split: str
    hp: int

    def column(self, seed: int | None = None) -> str:
        name = f"{self.metric}:{self.dataset}/{self.split}@{self.hp}"
        return name if seed is None else f"{name}:seed={seed}"

    def curve_column(self, seed: int) -> str:
        return f"curve:{self.column(seed)}"

    def __str__(self) -> str:
        return self.column()


@dataclass(frozen=True, order=True)
class CostKey:
    metric: str
    dataset: str

    def column(self) -> str:
        return f"{COSTS[self.metric]}@{self.dataset}"

    def __str__(self) -> str:
        return self.column()


def parse_column(name: str) -> tuple[SeriesKey, int | None] | CostKey:
    """The key a plain-table column holds; a name outside the grammar or the benchmark's names raises `SourceError`."""
    m = _SERIES_RE.match(name)
    if m:
        key = SeriesKey(m["metric"] or "accuracy", m["dataset"], m["split"], int(m["hp"]))
        _check_names(name, key.metric, METRICS, "metric")
        _check_names(name, key.dataset, DATASETS, "dataset")
        _check_names(name, key.split, SPLITS, "split")
        return key, (int(m["seed"]) if m["seed"] else None)
    m = _COST_RE.match(name)
    if m:
        prefixes = {v: k for k, v in COSTS.items()}
        if m["prefix"] not in prefixes:
            raise SourceError(f"column {name!r}: unknown cost {m['prefix']!r}; cost columns are "
                              f"{', '.join(p + '@DATASET' for p in prefixes)}")
        _check_names(name, m["dataset"], DATASETS, "dataset")
        return CostKey(prefixes[m["prefix"]], m["dataset"])
    raise SourceError(f"column {name!r} is not a ground-truth column; expected {GRAMMAR} "
                      f"(besides 'index' and 'arch')")


def _check_names(column: str, value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise SourceError(f"column {column!r}: unknown {what} {value!r}; NB201 {what}s are {', '.join(allowed)}")
