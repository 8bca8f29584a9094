"""EPS, the evolving proxy search space: an aging population of cells that one SPOS supernet trains inside.

The observation it starts from (`eps_top20`): a supernet ranks the whole space fairly but the ground-truth top 20%
poorly, so it should train and compare only promising cells. Generation 0 is `population` distinct random cells.
Each generation trains the supernet by uniform sampling inside the population (`gen-K/`, chained from the previous
generation's weights with `init_from`; generation 1 trains `first_epochs` from scratch, later ones
`epochs_per_generation`), scores every member, then adds one R_EA mutant of each of the `n_children` best members,
new to the population, and drops as many of the oldest (except in the last generation, whose children would never
be trained or scored). The final pick is the best-scored member of the last generation.

Scoring: a member's accuracy on the first `valid_batches` batches of the config's `valid_split`, with batch
statistics (`harness.train.loop.batch_statistics`, as the trainer validates). Re-BN would reset and re-estimate
every BN for each member on calibration images first, a pass over thousands of images per member per generation;
batch statistics give each child the statistics of its own activations too (what Re-BN is for: the supernet's
running statistics mix every path), on the very batch it is scored on, at no extra cost and with nothing but the
weights and the fixed validation batches deciding the score. Any `scorer(model, cells) -> scores` may replace it.

Resumable: `history.json` keeps the finished generations, and a generation's run (`gen-K/`) resumes mid-training.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.analysis.metrics import kendall_tau, top_k_count, top_k_kendall
from harness.errors import HarnessError
from harness.shrink.history import check_positive, identity_of, load_history, save_history
from harness.shrink.population import SpaceIndex, outside
from harness.space import NUM_EDGES, format_archs, parse_archs

#: scores the (n, 6) cells with a trained supernet; higher is better
Scorer = Callable[[object, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EpsSettings:
    """Population size, how long it evolves, how the supernet trains inside it and how members are scored."""

    population: int = 50
    generations: int = 10
    epochs_per_generation: int = 2
    first_epochs: int = 10
    n_children: int = 10
    valid_batches: int = 4
    seed: int = 0

    def __post_init__(self):
        check_positive(self, ("population", "generations", "epochs_per_generation", "first_epochs", "n_children",
                              "valid_batches"))
        if self.n_children > self.population:
            raise HarnessError(f"n_children={self.n_children} parents cannot be drawn from a population of "
                               f"{self.population}; pass n_children <= population")


def run_eps(settings: EpsSettings, out: str | Path, *, cells: np.ndarray, truth: np.ndarray, train_config,
            scorer: Scorer | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) EPS into `out`; returns one record per generation. `cells` (n, 6) and `truth` (n,) are the
    whole space and its ground truth; `train_config` the supernet's `TrainConfig`; `scorer` replaces the
    batch-statistics accuracy (e.g. to check the evolution exactly against a known score)."""
    if train_config is None:
        raise HarnessError("EPS trains a supernet: pass train_config (data, channels, ...)")
    out = Path(out)
    space = SpaceIndex(cells, truth)
    identity = identity_of(settings, train_config, __name__)
    history = load_history(out, identity)
    if history:
        population, born = _next_population(history[-1])
    else:
        population = space.random_cells(settings.population, np.random.default_rng([settings.seed, 0]))
        born = np.zeros(settings.population, dtype=np.int64)
    score = scorer or batch_stat_scorer(train_config, settings.valid_batches, progress)
    for generation in tqdm(range(len(history) + 1, settings.generations + 1), desc="EPS generations",
                           initial=len(history), total=settings.generations, disable=not progress):
        began = time.perf_counter()
        model = _train_generation(settings, out, train_config, generation, population)
        scores = np.asarray(score(model, population), dtype=np.float64)
        if scores.shape != (len(population),):
            raise HarnessError(f"the scorer returned shape {scores.shape} for {len(population)} cells")
        record = _record(space, generation, population, born, scores)
        if generation < settings.generations:
            record.update(_evolve(space, settings, generation, population, scores))
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        save_history(out, identity, history)
        population, born = _next_population(record)
    return history


def _record(space: SpaceIndex, generation: int, population: np.ndarray, born: np.ndarray, scores: np.ndarray) -> dict:
    truth = space.truth_of(population)
    return {"generation": generation, "population": format_archs(population), "ages": (generation - born).tolist(),
            "scores": scores.tolist(), "truth": truth.tolist(), "kendall_tau": kendall_tau(truth, scores),
            "mean_truth": float(truth.mean()), "best_truth": float(truth.max()),
            "pick": space.pick(population, scores), "quality": space.quality(population),
            "parents": [], "children": [], "dropped": []}


def _evolve(space: SpaceIndex, settings: EpsSettings, generation: int, population: np.ndarray,
            scores: np.ndarray) -> dict:
    """One mutant of each of the `n_children` best members (new to the population), and the oldest dropped.
    The population is kept oldest first, so the oldest are its head; ties in score go to the older member."""
    rng = np.random.default_rng([settings.seed, generation])
    allowed = outside(population)
    parents, children = [], []
    for best in np.argsort(-scores, kind="stable")[:settings.n_children]:
        child = space.mutant(population[best], rng, allowed)
        if child is None:  # every mutant R_EA drew is in the population already
            continue
        allowed &= outside(child[None])
        parents.append(population[best])
        children.append(child)
    return {"parents": format_archs(np.array(parents).reshape(-1, NUM_EDGES)),
            "children": format_archs(np.array(children).reshape(-1, NUM_EDGES)),
            "dropped": format_archs(population[:len(children)])}


def _next_population(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """The population (oldest first) and birth generations that follow a generation's record."""
    dropped = len(record["dropped"])
    population = parse_archs(record["population"][dropped:] + record["children"])
    born = record["generation"] - np.array(record["ages"][dropped:], dtype=np.int64)
    return population, np.concatenate([born, np.full(len(record["children"]), record["generation"])])


def _train_generation(settings: EpsSettings, out: Path, train_config, generation: int, population: np.ndarray):
    """Train the supernet inside the population into `gen-K/`; returns the trained model."""
    from harness.train.loop import load_model, train

    run_dir = out / f"gen-{generation}"
    config = replace(train_config, mode="spos", allowed=format_archs(population),
                     epochs=settings.first_epochs if generation == 1 else settings.epochs_per_generation,
                     seed=train_config.seed + generation - 1, checkpoint_epochs=())
    init_from = None if generation == 1 else out / f"gen-{generation - 1}" / "checkpoints" / "last.pt"
    train(config, run_dir, resume=(run_dir / "config.json").exists(), init_from=init_from)
    return load_model(run_dir, device=train_config.device)[1]


def batch_stat_scorer(train_config, valid_batches: int, progress: bool = False) -> Scorer:
    """Accuracy of each cell on the first `valid_batches` batches of the config's validation split (in order,
    the same images for every cell), with batch statistics and every BN buffer left as it was."""
    import torch

    from harness.data import DeviceBatches, load_split
    from harness.train.loop import batch_statistics, default_splits_dir, evaluate_accuracy

    data = load_split(train_config.dataset, train_config.valid_split, train_config.data_root,
                      train_config.splits_dir or default_splits_dir())
    batches = list(itertools.islice(DeviceBatches(data, train_config.batch_size, train_config.device, train=False,
                                                  seed=train_config.seed, resolution=train_config.resolution,
                                                  drop_last=False), valid_batches))
    device = torch.device(train_config.device)

    def score(model, cells: np.ndarray) -> np.ndarray:
        with torch.no_grad(), batch_statistics(model):
            return np.array([evaluate_accuracy(model, batches, cell, None, device)["valid_accuracy"]
                             for cell in tqdm(cells, desc="scoring", unit="cell", leave=False, disable=not progress)])
    return score


def eps_top20(run_dir_or_model, cells: np.ndarray, truth: np.ndarray, *, sample: int | None = 1000, seed: int = 0,
              valid_batches: int = 4, train_config=None, scorer: Scorer | None = None, device: str = "cpu",
              progress: bool = True) -> dict:
    """EPS's observation: the supernet's Kendall tau over `sample` cells drawn (seeded) from the whole space
    `cells` (None: all of them), and inside their ground-truth top 20%. The supernet is a run directory (its
    last checkpoint) or a model; a model object needs `train_config` for the validation data unless `scorer`
    is given."""
    from harness.train.loop import load_model

    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 2):
        raise HarnessError(f"sample must be a number of cells >= 2 (or None for all), got {sample!r}")
    if isinstance(run_dir_or_model, (str, Path)):
        config, model = load_model(run_dir_or_model, device=device)
        train_config = train_config or config
    else:
        model = run_dir_or_model
    if scorer is None:
        if train_config is None:
            raise HarnessError("scoring a model object needs train_config (its dataset and validation split); or "
                               "pass the run directory")
        scorer = batch_stat_scorer(replace(train_config, device=device), valid_batches, progress)
    cells = np.asarray(cells)
    truth = np.asarray(truth, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(truth))
    if sample is not None and sample < len(known):
        known = np.sort(np.random.default_rng(seed).choice(known, size=sample, replace=False))
    scores = np.asarray(scorer(model, cells[known]), dtype=np.float64)
    return {"cells": len(known), "top20_cells": top_k_count(len(known), 20), "seed": seed,
            "kendall_tau": kendall_tau(truth[known], scores), "top20_kendall_tau": top_k_kendall(truth[known], scores)}
