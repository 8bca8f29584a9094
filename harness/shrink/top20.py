"""EPS's observation: a supernet ranks the whole space fairly but the ground-truth top 20% of it poorly (REFERENCE
section 3), measured on any supernet (a run directory or a model) by its children's accuracy on validation batches
with batch statistics, or by any `scorer(model, cells) -> scores` (higher is better)."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.analysis.metrics import kendall_tau, top_k_count, top_k_kendall
from harness.errors import HarnessError

#: scores the (n, 6) cells with a trained supernet; higher is better
Scorer = Callable[[object, np.ndarray], np.ndarray]


def batch_stat_scorer(train_config, valid_batches: int, progress: bool = False, batch_cells: int = 1) -> Scorer:
    """Accuracy of each cell on the first `valid_batches` batches of the config's validation split (in order,
    the same images for every cell), with batch statistics and every BN buffer left as it was; `batch_cells`
    cells at a time in one pass of `harness.nets.batched` (the same accuracies)."""
    import torch

    from harness.data import DeviceBatches, load_split
    from harness.nets.batched import children_accuracy
    from harness.train.loop import autocast, batch_statistics, default_splits_dir, evaluate_accuracy

    if isinstance(batch_cells, bool) or not isinstance(batch_cells, int) or batch_cells < 1:
        raise HarnessError(f"batch_cells={batch_cells!r}: expected a positive int, the cells scored in one pass "
                           f"(1: one at a time)")

    data = load_split(train_config.dataset, train_config.valid_split, train_config.data_root,
                      train_config.splits_dir or default_splits_dir())
    batches = list(itertools.islice(DeviceBatches(data, train_config.batch_size, train_config.device, train=False,
                                                  seed=train_config.seed, resolution=train_config.resolution,
                                                  drop_last=False), valid_batches))
    device = torch.device(train_config.device)

    def score(model, cells: np.ndarray) -> np.ndarray:
        if batch_cells > 1:
            with autocast(device):
                return np.concatenate([
                    children_accuracy(model, cells[start:start + batch_cells], batches, batch_statistics=True)
                    for start in tqdm(range(0, len(cells), batch_cells), desc="scoring", unit="pass", leave=False,
                                      disable=not progress)])
        with torch.no_grad(), batch_statistics(model):
            return np.array([evaluate_accuracy(model, batches, cell, None, device)["valid_accuracy"]
                             for cell in tqdm(cells, desc="scoring", unit="cell", leave=False, disable=not progress)])
    return score


def eps_top20(run_dir_or_model, cells: np.ndarray, truth: np.ndarray, *, sample: int | None = 1000, seed: int = 0,
              valid_batches: int = 4, train_config=None, scorer: Scorer | None = None, device: str = "cpu",
              progress: bool = True, batch_cells: int = 1) -> dict:
    """EPS's observation: the supernet's Kendall tau over `sample` cells drawn (seeded) from the whole space
    `cells` (None: all of them), and inside their ground-truth top 20%. The supernet is a run directory (its
    last checkpoint) or a model; a model object needs `train_config` for the validation data unless `scorer`
    is given. `batch_cells`: cells scored in one pass (`batch_stat_scorer`)."""
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
        scorer = batch_stat_scorer(replace(train_config, device=device), valid_batches, progress, batch_cells)
    cells = np.asarray(cells)
    truth = np.asarray(truth, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(truth))
    if sample is not None and sample < len(known):
        known = np.sort(np.random.default_rng(seed).choice(known, size=sample, replace=False))
    scores = np.asarray(scorer(model, cells[known]), dtype=np.float64)
    return {"cells": len(known), "top20_cells": top_k_count(len(known), 20), "seed": seed,
            "kendall_tau": kendall_tau(truth[known], scores), "top20_kendall_tau": top_k_kendall(truth[known], scores)}
