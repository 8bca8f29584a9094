"""`harness reproduce --executor ray`: a table's independent units, a supernet per dataset, seed and recipe and a
score set per proxy, dataset and supernet, computed at once as Ray tasks before the table is measured.

A table does not list its units: it asks its `Inputs` for supernets (`Inputs.train`) and score sets
(`Inputs.score`) as it goes. `plan` runs the table with a `Planner`, an `Inputs` that records each unit it is asked
for and answers with a stand-in (random scores of the cells asked for; a supernet is not trained). The plan ends
where the table needs what a stand-in cannot give (a method's history, a measurement of a checkpoint) or where the
table fails on a stand-in; nothing computed from stand-ins is kept. The units then run as tasks, the supernets
first and the score sets once those are trained, each through the same `Inputs` methods as locally. Last, the table
runs on the driver exactly as it does locally, so the reuse rules are the local ones: it finds every unit finished
and reuses it, and computes there whatever the plan did not reach. So no value depends on this module, and the
tables' code hash does not include it (`reproduce` is handed `compute_units` as its `prepare`, by the CLI).
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from harness.executor import Progress, RayExecutor, Task
from harness.reproduce.inputs import Inputs


class PlanEnds(Exception):
    """The table needs something a stand-in cannot give: the units recorded so far are the plan."""


@dataclass(frozen=True)
class Planner(Inputs):
    """`Inputs` that records the units a table asks for instead of computing them."""

    trainings: dict = field(default_factory=dict)  # run directory -> TrainConfig
    scorings: dict = field(default_factory=dict)  # the store's file -> (label, proxy, cells, context, run_key)

    def train(self, config, run_dir: Path) -> None:
        self.trainings[Path(run_dir)] = config

    def score(self, label: str, proxy_name: str, cells: str, context, run_key: str | None = None):
        from harness.analysis.score_sets import ScoreSet
        from harness.proxies.scoring import select_cells

        proxy, context, _, path = self.score_job(label, proxy_name, cells, context, run_key)
        self.scorings.setdefault(path, (label, proxy_name, cells, context, run_key))
        chosen = select_cells(cells, self.oracle.order)
        # random, not constant: a table's statistics of constant scores fail, which would end the plan early
        stand_in = np.random.default_rng(len(self.scorings)).random(len(chosen))
        provenance = {"seconds": 0.0, "run_seconds": 0.0, "settings": context.settings, "code_hash": "stand-in"}
        return ScoreSet(proxy.name, chosen, stand_in, provenance, str(path))

    def history(self, *args, **kwargs):
        raise PlanEnds

    def record(self, *args, **kwargs):
        raise PlanEnds


def plan(module, preset: str, inputs: Inputs) -> Planner:
    """The units `module.run(preset, ...)` asks `inputs` for, up to where the plan ends (see the module docstring)."""
    planner = Planner(**{**{name: getattr(inputs, name) for name in inputs.__dataclass_fields__}, "progress": False})
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # whatever the table warns of stand-ins
        try:
            module.run(preset, Path(scratch), planner)
        except Exception:  # noqa: BLE001 - PlanEnds, or the table failing on a stand-in: the plan ends there
            pass
    return planner


def compute_units(module, preset: str, inputs: Inputs, label: str, *, executor: RayExecutor) -> None:
    """Plan the table and run its units as Ray tasks (supernets, then score sets): `reproduce`'s `prepare`."""
    absolute = replace(inputs, runs=inputs.runs.absolute(), scores=inputs.scores.absolute(),
                       **{k: str(Path(getattr(inputs, k)).absolute()) for k in ("data_root", "splits_dir")
                          if getattr(inputs, k)})  # a worker's directory is not the driver's
    planned = plan(module, preset, absolute)
    portable = {"inputs": replace(absolute, oracle=None, progress=False),
                "oracle": str(Path(inputs.oracle.path).absolute())}
    trainings = [Task(_train, (portable, config, str(run_dir)), f"{label}: train {Path(run_dir).name}",
                      gpus=_gpus(config.device)) for run_dir, config in planned.trainings.items()]
    scorings = [Task(_score, (portable, *unit), f"{label}: score {Path(path).name}", gpus=_gpus(unit[3].device))
                for path, unit in planned.scorings.items()]
    for stage, what in ((trainings, "supernets"), (scorings, "score sets")):
        if stage:
            executor.run(stage, Progress(len(stage), f"{label}: {what} on ray", enabled=inputs.progress))


def _rebuilt(portable: dict) -> Inputs:
    """The table's `Inputs` in a task: the ground truth opened from its file (an open oracle does not travel)."""
    from harness.oracle import Oracle

    return replace(portable["inputs"], oracle=Oracle(portable["oracle"]))


def _train(portable: dict, config, run_dir: str) -> None:
    """One Ray task: a supernet trained (or finished) as the table trains it."""
    _rebuilt(portable).train(replace(config, progress=False), Path(run_dir))


def _score(portable: dict, label, proxy_name, cells, context, run_key) -> None:
    """One Ray task: a score set scored into the store as the table scores it."""
    _rebuilt(portable).score(label, proxy_name, cells, context, run_key)


def _gpus(device) -> int:
    return 1 if str(device).startswith("cuda") else 0
