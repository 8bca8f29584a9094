"""The weaknas table: best test accuracy of the pick against the number of queries, for random search, REA and
WeakNAS on the oracle (NB201's protocol: search by validation, report test), with NB201's published random/REA
numbers beside the 100-query row, and the table's optimum as a check."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.reproduce.inputs import Inputs
from harness.reproduce.results import Row

METHODS = {"random": "random", "REA": "rea", "WeakNAS": "weaknas"}


@dataclass(frozen=True)
class WeakNasPreset:
    budget: int
    runs: dict = field(default_factory=dict)  # method -> seeded runs
    at: tuple[int, ...] = (100, 200, 500)


PRESETS = {"tiny": WeakNasPreset(40, {"random": 5, "REA": 5, "WeakNAS": 2}, at=(20, 40)),
           "cpu": WeakNasPreset(500, {"random": 100, "REA": 100, "WeakNAS": 30}),
           "gpu": WeakNasPreset(1000, {"random": 100, "REA": 100, "WeakNAS": 100}, at=(100, 200, 500, 1000)),
           "paper": WeakNasPreset(1000, {"random": 100, "REA": 100, "WeakNAS": 100}, at=(100, 200, 500, 1000))}


def run(preset: str, out: Path, inputs: Inputs) -> list[Row]:
    from harness.analysis.search import (PROTOCOL, optimum, protocol_columns, queries_to_optimum, run_searches,
                                         summarize_runs)

    settings = PRESETS[preset]
    cells = inputs.oracle.cells()
    rows = []
    for dataset, ((search_on, search_split), (report_on, report_split)) in PROTOCOL.items():
        valid, test = protocol_columns(inputs.oracle, dataset)
        rows.append(Row("weaknas", "optimum", dataset, "best_test", value=float(np.nanmax(test)), n=len(test)))
        best = optimum(valid)
        for label, method in METHODS.items():
            runs = settings.runs[label]
            began = time.perf_counter()
            history = run_searches(method, valid, test, cells, settings.budget, range(inputs.seed, inputs.seed + runs),
                                   progress=inputs.progress)
            seconds = time.perf_counter() - began
            common = {"table": "weaknas", "row": label, "dataset": dataset, "n": runs, "seconds": seconds,
                      "settings": {"budget": settings.budget, "seeds": [inputs.seed, inputs.seed + runs - 1],
                                   "searched": f"{search_on}/{search_split}@200",
                                   "reported": f"{report_on}/{report_split}@200", **history.attrs["settings"]}}
            for r in summarize_runs(history, at=settings.at, seed=inputs.seed).itertuples():
                rows.append(Row(**common, metric=f"best_test@{r.queries}", value=r.mean, ci_low=r.ci_low,
                                ci_high=r.ci_high))
            reach = queries_to_optimum(history, best)
            rows.append(Row(**common, metric="reached_optimum_share", value=reach["share"]))
    return rows
