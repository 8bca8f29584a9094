"""Search simulations on the ground truth (no training): random search, regularized evolution, WeakNAS.

A search looks only at the validation accuracy of the cells it queries and, as NB201 does, is judged by the test
accuracy of the cell with the best validation accuracy found so far. All functions take plain arrays over the same
cells (`valid`, `test` and `cells` row i describe one cell, e.g. the oracle's columns in official index order) and
return positions into them. The budget counts DISTINCT cells queried: REA may re-evaluate a cell it already holds
(NB201's R_EA does), which costs nothing on a table and so does not count; its trace keeps every evaluation
(`SearchTrace.evaluated`) and each one's parent. Pure numpy and scikit-learn (imported only when WeakNAS runs);
no torch.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.errors import HarnessError
from harness.space import NUM_CELLS, NUM_EDGES, NUM_OPS, encode, to_onehot, validate_cells

METHODS = ("random", "rea", "weaknas")
#: how a search spends its budget: distinct cells (the harness's searches), or as NB201's scripts do
PROTOCOLS = ("distinct", "nb201")
#: NB201's protocol at 200 epochs: dataset -> ((dataset, split) searched on, (dataset, split) reported)
PROTOCOL = {
    "cifar10": (("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": (("cifar100", "x-valid"), ("cifar100", "x-test")),
    "ImageNet16-120": (("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
}


def protocol_columns(oracle, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The accuracy NB201's protocol searches `dataset` by, and the one it reports, for every cell of `oracle`."""
    (search_on, search_split), (report_on, report_split) = PROTOCOL[dataset]
    return (oracle.accuracy(dataset=search_on, split=search_split),
            oracle.accuracy(dataset=report_on, split=report_split))

#: WeakNAS's weak predictors and their settings. `mlp` is the released one (VITA-Group/WeakNAS, WeakNAS.py:
#: sklearn's MLPRegressor with 4 hidden layers of 1,000 units, max_iter 100, fitted afresh every round); it takes
#: 10-40 s a round on one core, some 30 minutes a run of 1,000 queries. `mlp-small` is the cpu preset's stand-in:
#: 2 layers of 32, warm-started (it keeps its weights and Adam state from round to round and trains
#: `epochs_per_round` passes over the queried cells each round: 0.7 s a run). The trees are re-fitted each round.
PREDICTORS: dict[str, dict] = {
    "mlp": {"model": "sklearn.neural_network.MLPRegressor", "hidden_layer_sizes": (1000, 1000, 1000, 1000),
            "max_iter": 100},
    "mlp-small": {"model": "sklearn.neural_network.MLPRegressor", "hidden_layer_sizes": (32, 32),
                  "learning_rate_init": 0.01, "epochs_per_round": 5},
    "random_forest": {"model": "sklearn.ensemble.RandomForestRegressor", "n_estimators": 10},
    "gbdt": {"model": "sklearn.ensemble.GradientBoostingRegressor", "n_estimators": 20, "max_depth": 3,
             "learning_rate": 0.2},
}

#: `search_gain`: search budgets for the gain inside a shrunk space, and seeded runs per budget
GAIN_BUDGETS, GAIN_RUNS = (10, 25, 50, 100), 100
#: edge positions (in `harness.space.EDGES` order) into node 1, node 2 and node 3
_EDGES_INTO = ((0,), (1, 2), (3, 4, 5))
#: REA: tries to mutate a parent into the candidate set before taking a random candidate instead.
MUTATION_TRIES = 100
#: REA: evaluations in a row that find no new cell before a random unqueried candidate is injected. On the full
#: space it does not fire (the longest such run in 20 searches of 3,000 queries was 69); it keeps a search of a
#: small or disconnected candidate set from re-evaluating the cells it holds forever.
STALL_LIMIT = 1000


@dataclass(frozen=True)
class SearchTrace:
    """One search run: the distinct cells it queried, in query order, as positions into the arrays searched."""

    method: str
    seed: int
    queried: np.ndarray
    settings: dict = field(default_factory=dict)
    evaluated: np.ndarray | None = None  # REA: every evaluation in order, re-evaluations of held cells included
    parents: np.ndarray | None = None  # REA: the parent of each evaluation; -1 for a random cell, not a mutation
    observed: np.ndarray | None = None  # NB201's protocol: the accuracy each query saw (one random seed's)
    spent: np.ndarray | None = None  # NB201's protocol: the budget spent after each query (seconds or queries)

    def __len__(self) -> int:
        return len(self.queried)

    @property
    def evaluations(self) -> int:
        return len(self.queried) if self.evaluated is None else len(self.evaluated)


# -- the searches --------------------------------------------------------------------------------------------
def random_search(valid, budget: int, seed: int, candidates=None) -> SearchTrace:
    """`budget` distinct cells drawn uniformly without replacement from `candidates` (default: all cells)."""
    valid, candidates = _check_space(valid, candidates)
    _check_budget(budget, candidates)
    rng = np.random.default_rng(seed)
    queried = rng.choice(candidates, size=budget, replace=False)
    return SearchTrace("random", seed, queried, {"budget": budget, "candidates": _count(candidates, valid)})


def rea(valid, cells, budget: int, seed: int, population: int = 10, sample_size: int = 3,
        candidates=None) -> SearchTrace:
    """Regularized evolution as NAS-Bench-201's R_EA: a population of `population` distinct random cells; each
    step draws `sample_size` members uniformly (with replacement, as R_EA's `random.choice`), mutates the best of
    them by valid (a node chosen uniformly, one of its input edges chosen uniformly, gets one of the 4 other ops,
    chosen uniformly, as R_EA's mutation), queries the child,
    appends it and drops the oldest member. Runs until `budget` distinct cells have been queried.

    With `candidates`, a mutation is re-drawn until the child is a candidate; after `MUTATION_TRIES` misses the
    child is a random candidate. After `STALL_LIMIT` evaluations in a row without a new cell, the child is a
    random unqueried candidate (needed only for small or disconnected candidate sets).
    """
    valid, candidates = _check_space(valid, candidates)
    cells = _check_cells(cells, len(valid))
    _check_budget(budget, candidates)
    _check_positive(population=population, sample_size=sample_size)
    rng = np.random.default_rng(seed)
    codes, position, allowed, place = mutation_tables(cells, candidates)

    members = rng.choice(candidates, size=min(population, budget), replace=False)
    seen = np.zeros(len(valid), dtype=bool)
    seen[members] = True
    queried, evaluated, parents = list(members), list(members), [-1] * len(members)
    oldest, stalled = 0, 0
    while len(queried) < budget:
        sample = members[rng.integers(0, len(members), size=sample_size)]
        parent = int(sample[np.argmax(valid[sample])])
        child = mutate(parent, cells, codes, position, allowed, place, rng) if stalled < STALL_LIMIT else None
        if child is None:  # no mutation of the parent is a candidate, or the search stalled
            pool = candidates if stalled < STALL_LIMIT else candidates[~seen[candidates]]
            child, parent = int(rng.choice(pool)), -1
        evaluated.append(child)
        parents.append(parent)
        if seen[child]:
            stalled += 1
        else:
            seen[child], stalled = True, 0
            queried.append(child)
        members[oldest] = child
        oldest = (oldest + 1) % len(members)
    settings = {"budget": budget, "population": population, "sample_size": sample_size,
                "candidates": _count(candidates, valid)}
    return SearchTrace("rea", seed, np.asarray(queried, dtype=np.int64), settings,
                       np.asarray(evaluated, dtype=np.int64), np.asarray(parents, dtype=np.int64))


def mutation_tables(cells: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, ...]:
    """What `mutate` looks cells up in: each cell's product-order code, the position of every code in `cells` (-1:
    not there), which codes are candidates, and the code's step per op id on each edge."""
    codes = encode(cells)
    position = np.full(NUM_CELLS, -1, dtype=np.int64)
    position[codes] = np.arange(len(cells))
    allowed = np.zeros(NUM_CELLS, dtype=bool)
    allowed[codes[candidates]] = True
    return codes, position, allowed, encode(np.eye(NUM_EDGES, dtype=np.int64))


def mutate(parent: int, cells, codes, position, allowed, place, rng) -> int | None:
    """A child of `parent` with one edge's op changed, inside the candidate set, or None after
    `MUTATION_TRIES` children outside it."""
    for _ in range(MUTATION_TRIES):
        into = _EDGES_INTO[int(rng.integers(len(_EDGES_INTO)))]  # as R_EA: a node, then one of its inputs
        edge = into[int(rng.integers(len(into)))]
        old = int(cells[parent, edge])
        new = (old + int(rng.integers(1, NUM_OPS))) % NUM_OPS  # uniform over the other 4 ops
        code = int(codes[parent]) + (new - old) * int(place[edge])
        if allowed[code]:
            return int(position[code])
    return None


def weaknas(valid, cells, budget: int, seed: int, predictor: str = "mlp", initial: int = 10, per_round: int = 10,
            top: int = 100, candidates=None) -> SearchTrace:
    """WeakNAS (Wu et al. 2021) as its released code runs on NB201: `initial` random queries; then each round fits
    a weak predictor on all queried cells (one-hot features of the 6 ops; the label standardised by the mean and
    std over the whole candidate space), ranks every candidate, and queries `per_round` cells drawn uniformly from
    the unqueried ones among the predicted top `top` (the best-predicted unqueried ones when fewer are left),
    until `budget` cells are queried. `valid` (cells,) or (cells, seeds): with seeds, each cell's label is one
    seed drawn at random once per run, as released (NaN marks a seed not run). The predictors and their settings
    are in `PREDICTORS`; all are seeded from `seed`.
    """
    rng = np.random.default_rng(seed)
    label = _one_seed_each(valid, rng)
    label, candidates = _check_space(label, candidates)
    cells = _check_cells(cells, len(label))
    _check_budget(budget, candidates)
    _check_positive(initial=initial, per_round=per_round, top=top)
    if initial > budget:
        raise HarnessError(f"initial={initial} random queries exceed the budget of {budget}; "
                           f"pass initial <= budget")
    if per_round > top:
        raise HarnessError(f"per_round={per_round} cells cannot be drawn from the predicted top {top}; "
                           f"pass per_round <= top")
    model = _make_predictor(predictor, seed)
    features = to_onehot(cells).reshape(len(cells), -1).astype(np.float32)
    standardised = (label - label[candidates].mean()) / (label[candidates].std() or 1.0)
    queried = list(rng.choice(candidates, size=initial, replace=False))
    taken = np.zeros(len(label), dtype=bool)
    taken[queried] = True
    while len(queried) < budget:
        model.fit(features[queried], standardised[queried])
        order = candidates[np.argsort(-model.predict(features[candidates]), kind="stable")]
        wanted = min(per_round, budget - len(queried))
        pool = order[:top][~taken[order[:top]]]
        new = (rng.choice(pool, size=wanted, replace=False) if len(pool) >= wanted
               else order[~taken[order]][:wanted])
        queried.extend(new)
        taken[new] = True
    settings = {"budget": budget, "predictor": predictor, **PREDICTORS[predictor], "initial": initial,
                "per_round": per_round, "top": top, "candidates": _count(candidates, label),
                "label": "one random seed per cell" if np.ndim(valid) == 2 else "the value given per cell"}
    queried = np.asarray(queried, dtype=np.int64)
    return SearchTrace("weaknas", seed, queried, settings, observed=label[queried])


def _one_seed_each(valid, rng: np.random.Generator) -> np.ndarray:
    """(cells,) values as given; of (cells, seeds), one seed's value per cell drawn uniformly among its seeds."""
    valid = np.asarray(valid, dtype=np.float64)
    if valid.ndim != 2:
        return valid
    have = np.isfinite(valid)
    draws = rng.random(valid.shape)
    column = np.argmax(np.where(have, draws, -1.0), axis=1)  # a uniform choice among each cell's seeds
    return valid[np.arange(len(valid)), column]


class _WarmMLP:
    """The MLP predictor, trained on from round to round (see `PREDICTORS`)."""

    def __init__(self, seed: int, epochs_per_round: int, **params):
        from sklearn.neural_network import MLPRegressor

        self.epochs = epochs_per_round
        self.model = MLPRegressor(random_state=seed, **params)

    def fit(self, x, y) -> None:
        for _ in range(self.epochs):
            self.model.partial_fit(x, y)

    def predict(self, x) -> np.ndarray:
        return self.model.predict(x)


class _Refitted:
    """A predictor fitted afresh every round (the released MLP, the trees)."""

    def __init__(self, make):
        self.make = make
        self.model = None

    def fit(self, x, y) -> None:
        self.model = self.make().fit(x, y)

    def predict(self, x) -> np.ndarray:
        return self.model.predict(x)


def _make_predictor(name: str, seed: int):
    if name not in PREDICTORS:
        raise HarnessError(f"unknown predictor {name!r}; known predictors: {', '.join(PREDICTORS)}")
    params = {k: v for k, v in PREDICTORS[name].items() if k != "model"}
    if name == "mlp-small":
        return _WarmMLP(seed, **params)
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    model = {"mlp": MLPRegressor, "random_forest": RandomForestRegressor, "gbdt": GradientBoostingRegressor}[name]
    return _Refitted(lambda: model(random_state=seed, **params))


# -- what a search found --------------------------------------------------------------------------------------
def best_so_far(trace, valid, test) -> np.ndarray:
    """For n = 1..len(trace): the test accuracy of the cell with the best valid among the first n queried (the
    earliest queried wins a tie), which is what NB201 reports for a search that selects by validation. A trace of
    NB201's protocol selects by the values its queries saw (`SearchTrace.observed`)."""
    queried = _queried(trace, len(valid))
    observed = trace.observed if isinstance(trace, SearchTrace) else None
    v = np.asarray(valid, dtype=np.float64)[queried] if observed is None else observed
    improved = np.ones(len(v), dtype=bool)
    improved[1:] = v[1:] > np.maximum.accumulate(v)[:-1]
    chosen = np.maximum.accumulate(np.where(improved, np.arange(len(v)), 0))
    return np.asarray(test, dtype=np.float64)[queried[chosen]]


def max_so_far(trace, test) -> np.ndarray:
    """For n = 1..len(trace): the best test accuracy among the first n queried cells, which is what WeakNAS's
    released code reports as "best found" (it looks at the test accuracy of every cell it queried)."""
    queried = _queried(trace, len(test))
    return np.maximum.accumulate(np.asarray(test, dtype=np.float64)[queried])


def queries_to_reach(trace, target_index) -> int | None:
    """1-based query number at which `target_index` (one position, or several: any of them) was first queried,
    or None when the search never queried it."""
    queried = _queried(trace)
    hits = np.flatnonzero(np.isin(queried, np.atleast_1d(np.asarray(target_index))))
    return int(hits[0]) + 1 if hits.size else None


def optimum(valid, candidates=None) -> np.ndarray:
    """Positions of the best cells by valid among `candidates` (several only when they tie exactly)."""
    valid, candidates = _check_space(valid, candidates)
    best = valid[candidates].max()
    return candidates[valid[candidates] == best]


def run_searches(method: str, valid, test, cells, budget: int, seeds: Iterable[int], candidates=None,
                 progress: bool = False, protocol: str = "distinct", cost=None, **settings) -> pd.DataFrame:
    """One search per seed; a tidy frame with one row per query: run, seed, query (1-based), index (position
    searched), valid (the value the query saw), test, best_test (best-so-far test accuracy of the pick by valid,
    see `best_so_far`) and max_test (the best test accuracy queried so far, see `max_so_far`). The searches'
    settings are in the frame's `attrs["settings"]`.

    `protocol`: "distinct" (the budget counts distinct cells, valid is one value per cell) or "nb201" (random
    search and REA as NB201's scripts run them, `harness.analysis.nb201_protocol`: valid may hold one column per
    seed, `cost` the seconds of each, and the budget is seconds, or evaluations without cost; the frame gains
    `spent`, the budget used after each query)."""
    if protocol not in PROTOCOLS:
        raise HarnessError(f"unknown search protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    if method not in METHODS:
        raise HarnessError(f"unknown search method {method!r}; known methods: {', '.join(METHODS)}")
    if protocol == "nb201":
        if method == "weaknas":
            raise HarnessError("NB201's protocol is that of its random search and REA scripts; run weaknas with "
                               "protocol='distinct' (WeakNAS's released code counts distinct queries)")
        valid = np.asarray(valid, dtype=np.float64)
        means = np.nanmean(valid, axis=1) if valid.ndim == 2 and valid.shape[1] > 1 else valid.reshape(len(valid))
    else:
        if cost is not None:
            raise HarnessError("cost applies to protocol='nb201' only (the distinct protocol counts queries)")
        if method == "weaknas" and np.ndim(valid) == 2:  # one column per seed: WeakNAS labels a cell by one of them
            valid = np.asarray(valid, dtype=np.float64)
            means = np.nanmean(valid, axis=1)
        else:
            valid, candidates = _check_space(valid, candidates)
            means = valid
    test = np.asarray(test, dtype=np.float64)
    if test.shape != (len(valid),):
        raise HarnessError(f"test must have one value per cell like valid ({len(valid)}), got shape {test.shape}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise HarnessError("seeds is empty: pass at least one seed (one search runs per seed)")
    frames = []
    for run, seed in enumerate(tqdm(seeds, desc=f"{method} runs", unit="run", disable=not progress)):
        trace = _one_search(method, protocol, valid, cells, budget, seed, candidates, cost, settings)
        frame = {"run": run, "seed": seed, "query": np.arange(1, len(trace) + 1), "index": trace.queried,
                 "valid": means[trace.queried] if trace.observed is None else trace.observed,
                 "test": test[trace.queried], "best_test": best_so_far(trace, means, test),
                 "max_test": max_so_far(trace, test)}
        if trace.spent is not None:
            frame["spent"] = trace.spent
        frames.append(pd.DataFrame(frame))
    history = pd.concat(frames, ignore_index=True)
    history.attrs["settings"] = trace.settings  # the same for every seed
    return history


def _one_search(method, protocol, valid, cells, budget, seed, candidates, cost, settings) -> SearchTrace:
    if protocol == "nb201":
        from harness.analysis.nb201_protocol import nb201_random, nb201_rea

        if method == "random":
            return nb201_random(valid, budget, seed, cost=cost, candidates=candidates, **settings)
        return nb201_rea(valid, cells, budget, seed, cost=cost, candidates=candidates, **settings)
    if method == "random":
        return random_search(valid, budget, seed, candidates=candidates, **settings)
    if method == "rea":
        return rea(valid, cells, budget, seed, candidates=candidates, **settings)
    return weaknas(valid, cells, budget, seed, candidates=candidates, **settings)


def final_summary(history: pd.DataFrame, column: str = "best_test", level: float = 0.95, n_boot: int = 2000,
                  seed: int = 0) -> dict:
    """The last value of `column` of every run (what a run found when its budget ran out, however many queries
    that was): mean, std over runs (NB201 reports mean +- std), a percentile-bootstrap interval of the mean, the
    runs, and the mean number of queries."""
    if not 0 < level < 1:
        raise HarnessError(f"level must be in (0, 1), e.g. 0.95; got {level}")
    last = history.groupby("run").last()
    values = last[column].to_numpy(dtype=np.float64)
    low, high = _mean_interval(values, level, n_boot, seed)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "ci_low": float(low), "ci_high": float(high), "runs": len(values),
            "queries": float(last["query"].mean())}


def summarize_runs(history: pd.DataFrame, at: Sequence[int] = (100, 200, 500, 1000), level: float = 0.95,
                   n_boot: int = 2000, seed: int = 0, column: str = "best_test") -> pd.DataFrame:
    """`column` (the best-so-far test accuracy of the pick, or `max_test`) over runs at the query counts `at`
    (those within the budget): mean, std (NB201 reports mean +- std) and a percentile-bootstrap interval of the
    mean over runs at `level`."""
    if not 0 < level < 1:
        raise HarnessError(f"level must be in (0, 1), e.g. 0.95; got {level}")
    budget = int(history["query"].max())
    rows = []
    for n in sorted({int(a) for a in at if 1 <= a <= budget}):
        values = history.loc[history["query"] == n, column].to_numpy()
        low, high = _mean_interval(values, level, n_boot, seed)
        rows.append({"queries": n, "runs": len(values), "mean": values.mean(),
                     "std": values.std(ddof=1) if len(values) > 1 else math.nan,
                     "ci_low": low, "ci_high": high})
    if not rows:
        raise HarnessError(f"no query count in at={list(at)} lies within the budget of {budget} queries")
    return pd.DataFrame(rows)


def _mean_interval(values: np.ndarray, level: float, n_boot: int, seed: int) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of `values` over runs."""
    means = values[np.random.default_rng(seed).integers(0, len(values), (n_boot, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def queries_to_optimum(history: pd.DataFrame, target) -> dict:
    """How many queries the runs needed to first query `target` (position(s), e.g. `optimum(valid)`): the share
    of runs that reached it within the budget, and the 25/50/75% quantiles over ALL runs, a run that never
    reached it counting as more than the budget (a quantile that falls on such runs is None)."""
    target = np.atleast_1d(np.asarray(target))
    budget = int(history["query"].max())
    hits = history.loc[history["index"].isin(target)].groupby("run")["query"].min()
    first = hits.reindex(np.unique(history["run"])).fillna(math.inf).to_numpy(dtype=np.float64)
    quantiles = np.quantile(first, [0.25, 0.5, 0.75], method="inverted_cdf")
    reached = np.isfinite(first)
    return {"runs": len(first), "budget": budget, "reached": int(reached.sum()), "share": float(reached.mean()),
            **{name: (int(q) if np.isfinite(q) else None) for name, q in zip(("q25", "median", "q75"), quantiles)},
            "mean_if_reached": float(first[reached].mean()) if reached.any() else None}


def search_gain(valid, test, cells, inside, budgets: Sequence[int] = GAIN_BUDGETS, runs: int = GAIN_RUNS,
                seed: int = 0) -> pd.DataFrame:
    """What a shrunk space is worth to a search: random search and REA inside it (`inside`: its positions) against
    the whole space, each the mean final best test accuracy over `runs` runs (seeds `seed`..) at the `budgets` the
    space can hold. One row per method and budget: method, queries, inside, whole space, gain (inside - whole)."""
    rows = []
    for budget in (b for b in budgets if b <= len(inside)):
        for method in ("random", "rea"):
            found = {where: run_searches(method, valid, test, cells, budget, range(seed, seed + runs),
                                         candidates=candidates).groupby("run")["best_test"].last().mean()
                     for where, candidates in (("inside", inside), ("whole space", None))}
            rows.append({"method": method, "queries": budget, "inside": found["inside"],
                         "whole space": found["whole space"], "gain": found["inside"] - found["whole space"]})
    return pd.DataFrame(rows, columns=["method", "queries", "inside", "whole space", "gain"])


# -- input checks -----------------------------------------------------------------------------------------------
def _check_space(valid, candidates) -> tuple[np.ndarray, np.ndarray]:
    try:
        valid = np.asarray(valid, dtype=np.float64)
    except (TypeError, ValueError):
        raise HarnessError(f"valid must be numbers (one accuracy per cell), got {type(valid).__name__}") from None
    if valid.ndim != 1 or len(valid) == 0:
        raise HarnessError(f"valid must be 1-D with one accuracy per cell, got shape {valid.shape}")
    if candidates is None:
        candidates = np.arange(len(valid))
    else:
        candidates = np.asarray(candidates)
        if candidates.ndim != 1 or candidates.size == 0 or not np.issubdtype(candidates.dtype, np.integer):
            raise HarnessError(f"candidates must be a non-empty 1-D array of integer positions into valid, got "
                               f"dtype {candidates.dtype} and shape {candidates.shape}")
        candidates = candidates.astype(np.int64)
        bad = candidates[(candidates < 0) | (candidates >= len(valid))]
        if bad.size:
            raise HarnessError(f"candidate {bad[0]} is out of range: candidates are positions 0..{len(valid) - 1} "
                               f"into valid")
        if len(np.unique(candidates)) != len(candidates):
            raise HarnessError("candidates holds duplicates; pass each position once (e.g. np.unique(candidates))")
    missing = candidates[np.isnan(valid[candidates])]
    if missing.size:
        raise HarnessError(f"valid is NaN for {missing.size} candidate cell(s), e.g. position {missing[0]}; a search "
                           f"needs a value for every cell it may query: pass "
                           f"candidates=np.flatnonzero(np.isfinite(valid))")
    return valid, candidates


def _check_cells(cells, n: int) -> np.ndarray:
    cells = validate_cells(cells)
    if len(cells) != n:
        raise HarnessError(f"cells must have one row per value of valid ({n}), got {len(cells)} rows")
    if len(np.unique(encode(cells))) != n:
        raise HarnessError("cells holds the same cell twice; each row must be a different cell "
                           "(e.g. the oracle's cells in official order)")
    return cells


def _check_budget(budget, candidates: np.ndarray) -> None:
    if not isinstance(budget, (int, np.integer)) or not 1 <= budget <= len(candidates):
        raise HarnessError(f"budget must be an integer in 1..{len(candidates)} (the number of candidate cells: a "
                           f"budget counts distinct cells), got {budget!r}")


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise HarnessError(f"{name} must be a positive integer, got {value!r}")


def _count(candidates: np.ndarray, valid: np.ndarray) -> int | None:
    """What settings record about the candidates: None for the whole space, else how many."""
    return None if len(candidates) == len(valid) else len(candidates)


def _queried(trace, n: int | None = None) -> np.ndarray:
    queried = np.asarray(trace.queried if isinstance(trace, SearchTrace) else trace)
    if queried.ndim != 1 or not np.issubdtype(queried.dtype, np.integer):
        raise HarnessError(f"a trace must be a SearchTrace or a 1-D array of integer positions, got dtype "
                           f"{queried.dtype} and shape {queried.shape}")
    if n is not None and queried.size and (queried.min() < 0 or queried.max() >= n):
        raise HarnessError(f"the trace holds positions outside 0..{n - 1}: it was made on other arrays")
    return queried.astype(np.int64, copy=False)
