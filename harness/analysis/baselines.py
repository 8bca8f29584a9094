"""Baselines that need no training, for every report: seeded random scores, parameter count, 12-epoch accuracy."""
from __future__ import annotations

import numpy as np

from harness.analysis.score_sets import ScoreSet
from harness.errors import OracleQueryError
from harness.oracle import CostKey, Oracle

#: the validation split that a 12-epoch search would look at, per target dataset (REFERENCE.md section 4)
VALIDATION_AT_12 = {"cifar10": ("cifar10-valid", "x-valid"), "cifar10-valid": ("cifar10-valid", "x-valid"),
                    "cifar100": ("cifar100", "x-valid"), "ImageNet16-120": ("ImageNet16-120", "x-valid")}


def baseline_score_sets(oracle: Oracle, indices: np.ndarray, dataset: str, seed: int = 0) -> list[ScoreSet]:
    """Baseline scores for the cells at `indices`; a baseline the ground truth cannot give is left out."""
    cells = oracle.cells(indices)
    common = {"baseline": True, "table_hash": oracle.table_hash, "benchmark_version": oracle.meta["benchmark_version"]}
    rng = np.random.default_rng(seed)
    sets = [ScoreSet(f"random (seed {seed})", cells, rng.random(len(indices)), {"proxy": "random", "seed": seed,
                                                                                 **common})]
    params_dataset = dataset if CostKey("params", dataset) in oracle.cost_keys else "cifar10"
    if CostKey("params", params_dataset) in oracle.cost_keys:
        sets.append(ScoreSet("params", cells, oracle.cost("params", indices, dataset=params_dataset),
                             {"proxy": "params", "settings": {"head": params_dataset}, **common}))
    valid_dataset, valid_split = VALIDATION_AT_12[dataset]
    try:
        acc12 = oracle.accuracy(indices, dataset=valid_dataset, split=valid_split, hp=12)
    except OracleQueryError:
        return sets
    sets.append(ScoreSet("12-epoch accuracy", cells, acc12,
                         {"proxy": "accuracy@12", "settings": {"column": f"{valid_dataset}/{valid_split}@12"},
                          **common}))
    return sets
