"""NB201's own search scripts as released (RANDOM.py and R_EA.py of D-X-Y/AutoDL-Projects, the versions behind the
benchmark's published random-search and REA numbers), simulated on the ground truth.

What they do that the harness's distinct-query searches (`harness.analysis.search`) do not:
- a query is `train_and_eval`: the 12-epoch validation accuracy (`hp="12"`) of ONE seed drawn at random for that
  query (`get_more_info(..., is_random=True)`), so querying a cell twice may see two values; the pick is the first
  best of all values seen, and it is reported by its 200-epoch test accuracy (mean over seeds);
- each query costs the seed's recorded `train-all-time + valid-per-time` (12 epochs of training and one epoch of
  evaluation on x-valid) and the search stops before the query that would pass the time budget, 12,000 s;
- cells are drawn with replacement (a random cell is each edge's op drawn uniformly; REA's population and
  children may repeat cells), so the count is of evaluations, not of distinct cells;
- REA: population 10, tournament 3 drawn with replacement, the first best of the tournament is the parent, its
  child changes one op (a node uniformly, one of its inputs uniformly, another op uniformly: `search.mutate`);
  the oldest member dies. The initial population is evaluated whatever its cost (as released).

Ground truth without recorded times (table.csv) cannot charge seconds: a query then costs one evaluation and the
budget is `STAND_IN_EVALUATIONS`, documented where it is used. The three real NATS-Bench records in ../shared cost
89 to 154 s per cifar10-valid query, 78 to 135 queries in 12,000 s. Only numpy; no torch.
"""
from __future__ import annotations

import numpy as np

from harness.analysis.search import SearchTrace, _check_cells, _check_positive, mutate, mutation_tables
from harness.errors import HarnessError, OracleQueryError

#: the simulated search time of NB201's scripts, in seconds
TIME_BUDGET = 12_000.0
#: the evaluations a search may make when the ground truth records no times (see the module docstring)
STAND_IN_EVALUATIONS = 100
#: the training schedule NB201's scripts search by
HP = 12


class Evaluator:
    """`train_and_eval` on a table: `valid` (n,) or (n, seeds) with NaN where a seed was not run, `cost` the same
    shape in seconds or None (then every query costs 1 and budgets count evaluations)."""

    def __init__(self, valid, cost=None):
        valid = np.asarray(valid, dtype=np.float64)
        if valid.ndim == 1:
            valid = valid[:, None]
        if valid.ndim != 2 or valid.size == 0:
            raise HarnessError(f"valid must be (cells,) or (cells, seeds) accuracies, got shape {valid.shape}")
        self.valid = valid
        self.seeds = np.isfinite(valid)
        if cost is None:
            self.cost = None
        else:
            cost = np.asarray(cost, dtype=np.float64)
            cost = cost[:, None] if cost.ndim == 1 else cost
            if cost.shape != valid.shape:
                raise HarnessError(f"cost must have the shape of valid {valid.shape} (seconds per cell and seed), "
                                   f"got {cost.shape}")
            bad = self.seeds & ~(np.isfinite(cost) & (cost >= 0))
            if bad.any():
                cell, seed = np.argwhere(bad)[0]
                raise HarnessError(f"cost of cell {cell}, seed column {seed} is {float(cost[cell, seed])}; every seed "
                                   f"with an accuracy needs a time >= 0 (or pass cost=None to count evaluations)")
            self.cost = cost

    def candidates(self, candidates) -> np.ndarray:
        """The positions a search may draw: all cells with a value for at least one seed, or `candidates`."""
        have = np.flatnonzero(self.seeds.any(axis=1))
        if candidates is None:
            return have
        candidates = np.unique(np.asarray(candidates, dtype=np.int64))
        missing = np.setdiff1d(candidates, have)
        if missing.size:
            raise HarnessError(f"candidate {missing[0]} has no validation accuracy for any seed; pass candidates "
                               f"with values")
        return candidates

    def __call__(self, cell: int, rng: np.random.Generator) -> tuple[float, float]:
        """(validation accuracy, seconds) of one query of `cell`: one of its seeds drawn uniformly."""
        columns = np.flatnonzero(self.seeds[cell])
        column = columns[int(rng.integers(len(columns)))] if len(columns) > 1 else columns[0]
        seconds = 1.0 if self.cost is None else float(self.cost[cell, column])
        return float(self.valid[cell, column]), seconds


def nb201_random(valid, budget: float, seed: int, cost=None, candidates=None) -> SearchTrace:
    """RANDOM.py: random cells, drawn with replacement, queried until the next query would pass `budget`
    (seconds when `cost` is given, else evaluations)."""
    evaluate = Evaluator(valid, cost)
    pool = evaluate.candidates(candidates)
    _check_budget_of(budget, evaluate)
    rng = np.random.default_rng(seed)
    log, total = [], 0.0  # (cell, accuracy seen, seconds spent so far, parent) per query
    while True:
        cell = int(pool[int(rng.integers(len(pool)))])
        value, seconds = evaluate(cell, rng)
        if total + seconds > budget:
            break
        total += seconds
        log.append((cell, value, total, -1))
    return _trace("random", seed, log, {"protocol": "nb201", "budget": budget, "budget_unit": _unit(evaluate)})


def nb201_rea(valid, cells, budget: float, seed: int, population: int = 10, sample_size: int = 3, cost=None,
              candidates=None) -> SearchTrace:
    """R_EA.py: aging evolution under a time budget; see the module docstring."""
    evaluate = Evaluator(valid, cost)
    pool = evaluate.candidates(candidates)
    cells = _check_cells(cells, len(evaluate.valid))
    _check_budget_of(budget, evaluate)
    _check_positive(population=population, sample_size=sample_size)
    rng = np.random.default_rng(seed)
    codes, position, allowed, place = mutation_tables(cells, pool)

    log, total = [], 0.0
    members: list[tuple[int, float]] = []  # (cell, the accuracy its query saw), oldest first
    while len(members) < population:  # as released: the initial population is evaluated whatever it costs
        cell = int(pool[int(rng.integers(len(pool)))])
        value, seconds = evaluate(cell, rng)
        total += seconds
        members.append((cell, value))
        log.append((cell, value, total, -1))
    while total < budget:
        sample = [members[int(i)] for i in rng.integers(0, len(members), size=sample_size)]
        parent = max(sample, key=lambda member: member[1])[0]  # the first best, as Python's max
        child = mutate(parent, cells, codes, position, allowed, place, rng)
        if child is None:  # no mutation of the parent is a candidate: a random candidate instead
            child, parent = int(pool[int(rng.integers(len(pool)))]), -1
        value, seconds = evaluate(child, rng)
        if total + seconds > budget:
            break
        total += seconds
        members.append((child, value))
        members.pop(0)
        log.append((child, value, total, parent))
    return _trace("rea", seed, log, {"protocol": "nb201", "budget": budget, "budget_unit": _unit(evaluate),
                                     "population": population, "sample_size": sample_size})


def protocol_inputs(oracle, dataset: str) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """What NB201's scripts see of `dataset` in `oracle`: the 12-epoch x-valid accuracy per seed (cells, seeds),
    each seed's cost in seconds (or None when the source records no times), and a description for provenance.
    CIFAR-10 searches cifar10-valid (trained on half of the training set), as the scripts do."""
    from harness.analysis.search import PROTOCOL

    (search_on, split), _ = PROTOCOL[dataset]
    info = oracle.series_info("accuracy", search_on, split, HP)
    seeds = list(info.seeds)
    if seeds:
        valid = np.stack([oracle.accuracy(dataset=search_on, split=split, hp=HP, seed=s) for s in seeds], axis=1)
    else:
        valid = oracle.accuracy(dataset=search_on, split=split, hp=HP)[:, None]
    cost, times = None, "one evaluation (the source records no times)"
    if seeds:
        try:  # train-all-time + valid-per-time of the seed, as `get_more_info(..., hp="12")` gives them
            cost = np.stack([oracle.schedule_seconds(dataset=search_on, split="train", hp=HP, seed=s)
                             + oracle.schedule_seconds(dataset=search_on, split=split, hp=HP, seed=s) / HP
                             for s in seeds], axis=1)
            times = "the seed's 12-epoch training time plus one epoch's evaluation on x-valid"
        except OracleQueryError:  # the source records no times
            cost = None
    described = {"searched": f"{search_on}/{split}@{HP}",
                 "seed_per_query": f"one of {len(seeds)} recorded seeds at random" if seeds
                 else "the mean over seeds (the source records no seeds)",
                 "query_cost": times}
    return valid, cost, described


def default_budget(cost) -> tuple[float | int, str]:
    """NB201's 12,000 s when times are recorded, else the stand-in count of evaluations."""
    return (TIME_BUDGET, "seconds") if cost is not None else (STAND_IN_EVALUATIONS, "evaluations")


def _trace(method: str, seed: int, log: list, settings: dict) -> SearchTrace:
    if not log:
        raise HarnessError(f"the budget {settings['budget']} {settings['budget_unit']} does not pay for a single "
                           f"query; pass a larger budget")
    cells, observed, spent, parents = (np.asarray(column) for column in zip(*log))
    return SearchTrace(method, seed, cells.astype(np.int64), settings,
                       parents=parents.astype(np.int64) if method == "rea" else None,
                       observed=observed.astype(np.float64), spent=spent.astype(np.float64))


def _unit(evaluate: Evaluator) -> str:
    return "evaluations" if evaluate.cost is None else "seconds"


def _check_budget_of(budget, evaluate: Evaluator) -> None:
    if evaluate.cost is None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer)) or budget < 1 \
                or float(budget) != int(budget):
            raise HarnessError(f"budget must be a whole number of evaluations >= 1 (this ground truth records no "
                               f"times), got {budget!r}")
    elif isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer)) or not budget > 0:
        raise HarnessError(f"budget must be a positive number of seconds, got {budget!r}")
