"""Read one architecture's `ArchResults` (nas_201_api or nats_bench: the same state format) into the builder.

The benchmark's quirks are checked here and raised as `SourceError`, never turned into numbers:
a trial whose recorded seed disagrees with the key it is filed under, a schedule whose epoch count is not
its hp, an unknown split name.
"""
from __future__ import annotations

from harness.errors import SourceError
from harness.oracle.cache import GroundTruthBuilder
from harness.oracle.keys import DATASETS, SPLITS, CostKey, SeriesKey


def add_arch_results(builder: GroundTruthBuilder, index: int, hp: int, results, where: str) -> None:
    """Add every trial of `results` (one cell, one training schedule `hp`) for cell `index`."""
    try:
        _add_results(builder, index, hp, results, where)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"{where}: the {hp}-epoch record is not in the benchmark's ArchResults structure "
                          f"({type(exc).__name__}: {exc}); the file is damaged or not an official one") from None


def _add_results(builder: GroundTruthBuilder, index: int, hp: int, results, where: str) -> None:
    if int(results.arch_index) != index:
        raise SourceError(f"{where}: the record filed under index {index} says it is index {results.arch_index}")
    expected = builder.order.archs_of([index])[0]
    if results.arch_str != expected:
        raise SourceError(f"{where}: index {index} holds {results.arch_str!r} but the benchmark's list of "
                          f"architectures has {expected!r} there")
    listed = {(d, s) for d in results.get_dataset_names() for s in results.get_dataset_seeds(d)}
    if listed != set(results.all_results):
        raise SourceError(f"{where}: the {hp}-epoch record lists trials {sorted(listed)} but holds "
                          f"{sorted(results.all_results)}; the record is damaged")
    for dataset in results.get_dataset_names():
        if dataset not in DATASETS:
            raise SourceError(f"{where}: unknown dataset {dataset!r} (expected one of {', '.join(DATASETS)})")
        for seed in results.get_dataset_seeds(dataset):
            trial = results.query(dataset, seed)
            _check_trial(trial, dataset, seed, hp, where)
            _add_trial(builder, index, hp, dataset, int(seed), trial, where)
        costs = results.get_compute_costs(dataset)
        for metric in ("params", "flops", "latency"):
            key, value = CostKey(metric, dataset), costs.get(metric)
            if value is not None and not builder.has_cost(key, index):  # as the APIs: first schedule read (hp 12)
                builder.set_cost(key, index, float(value))


def _check_trial(trial, dataset: str, seed, hp: int, where: str) -> None:
    try:
        recorded = int(str(trial.seed))
    except ValueError:
        recorded = None
    if recorded != int(seed):
        raise SourceError(f"{where}: the {dataset}@{hp} trial filed under seed {seed!r} records seed {trial.seed!r}")
    for values, what in ((trial.eval_acc1es, "accuracies"), (trial.eval_losses, "losses")):
        recorded = {name.rpartition("@")[0] for name in (values or {})}
        if set(trial.eval_names) - recorded:
            raise SourceError(f"{where}: the {dataset}@{hp} trial of seed {seed} lists evaluations on "
                              f"{', '.join(trial.eval_names)} but has no {what} for "
                              f"{', '.join(sorted(set(trial.eval_names) - recorded))}; the record is damaged")
    if int(trial.epochs) != hp:
        raise SourceError(f"{where}: the {dataset} trial of the {hp}-epoch schedule (seed {seed}) says it ran "
                          f"{trial.epochs} epochs")


def _add_trial(builder: GroundTruthBuilder, index: int, hp: int, dataset: str, seed: int, trial, where: str) -> None:
    # seconds: the per-epoch wall times the benchmark recorded, which its search scripts charge per query
    train = (("accuracy", trial.train_acc1es), ("loss", trial.train_losses), ("seconds", trial.train_times))
    for metric, values in train:
        per_epoch = {int(epoch): float(v) for epoch, v in (values or {}).items()}
        if per_epoch:
            builder.set_seed(SeriesKey(metric, dataset, "train", hp), seed, index, per_epoch, hp)
    evals = (("accuracy", trial.eval_acc1es), ("loss", trial.eval_losses), ("seconds", trial.eval_times))
    for metric, values in evals:
        by_split: dict[str, dict[int, float]] = {}
        for name, value in (values or {}).items():
            split, _, epoch = name.rpartition("@")
            if split not in SPLITS or not epoch.isdigit() or not 0 <= int(epoch) < hp:
                raise SourceError(f"{where}: {dataset}@{hp} seed {seed} has an evaluation entry {name!r}; expected "
                                  f"SPLIT@EPOCH with SPLIT in {', '.join(SPLITS)} and EPOCH in 0..{hp - 1}")
            by_split.setdefault(split, {})[int(epoch)] = float(value)
        for split, per_epoch in by_split.items():
            builder.set_seed(SeriesKey(metric, dataset, split, hp), seed, index, per_epoch, hp)
