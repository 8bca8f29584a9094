"""`Oracle`: vectorised ground-truth queries over the imported cache; no torch, columns read on first use."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from harness.errors import OracleQueryError
from harness.oracle.cache import SeriesInfo, check_column, corrupt, mean_over_seeds, open_cache
from harness.oracle.keys import COSTS, DATASETS, METRICS, CostKey, SeriesKey
from harness.paths import EMBEDDED_ORACLE, find_oracle
from harness.space import (
    NUM_CELLS,
    NUM_EDGES,
    IndexOrder,
    check_indices,
    class_ids,
    format_archs,
    operator_means,
    parse_arch,
    parse_archs,
)

CIFAR10_HAS_NO_VALID = (
    "dataset 'cifar10' has no validation split: its models were trained on all 50k training images and evaluated "
    "on the test set ('ori-test') only. NB201's validation accuracy for CIFAR-10 is dataset 'cifar10-valid', split "
    "'x-valid' (models trained on the 25k train half, evaluated on the 25k valid half); their test accuracy is "
    "'cifar10-valid/ori-test'.")


class Oracle:
    """The benchmark's ground truth for all 15,625 cells.

    Cells can be given as official indices (int or 1-D ints), arch strings, or an (n, 6) op-id array;
    `None` means all cells in official index order. Values are NaN where the source has none.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = find_oracle(path)
        self._file, self.meta = open_cache(self.path)
        self.order = IndexOrder(self._read("code").to_numpy())
        self.series = {info.key: info for info in map(SeriesInfo.from_json, self.meta["series"])}
        self.cost_keys = {CostKey(c["metric"], c["dataset"]) for c in self.meta["costs"]}
        self._columns: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return (f"Oracle({self.meta['benchmark_version']!r} from {self.meta['source']['name']!r}, "
                f"{self.meta['cells_with_values']}/{NUM_CELLS} cells, {len(self.series)} series)")

    @property
    def provenance(self) -> dict:
        """What to record next to any result computed from this ground truth: the source file's name, kind and
        sha256, the release and the importer; no path of this machine (results get committed and shared)."""
        keys = ("benchmark_version", "importer", "harness_version", "created_utc")
        source = {k: v for k, v in self.meta["source"].items() if k != "path"}
        return {"cache": self.path.name, "source": source, **{k: self.meta[k] for k in keys}}

    @property
    def embedded(self) -> bool:
        """Whether this is the mean ground truth shipped in the package (no cache was imported)."""
        return self.path == EMBEDDED_ORACLE

    @property
    def table_hash(self) -> str:
        return self.meta["source"]["sha256"]

    # -- cells -------------------------------------------------------------------------------------------
    def indices(self, archs=None) -> np.ndarray:
        """Official indices of the given cells (see class docstring for the accepted forms)."""
        return self._resolve(archs)[0]

    def cells(self, archs=None) -> np.ndarray:
        return self.order.cells_of(self.indices(archs))

    def archs(self, archs=None) -> list[str]:
        return format_archs(self.cells(archs))

    def _resolve(self, archs) -> tuple[np.ndarray, bool]:
        if archs is None:
            return np.arange(NUM_CELLS), False
        if isinstance(archs, str):
            return self.order.index_of(parse_arch(archs)[None]), True
        if isinstance(archs, (int, np.integer)):
            return check_indices([archs]), True
        if isinstance(archs, (list, tuple, pd.Series)) and len(archs) and all(isinstance(a, str) for a in archs):
            return self.order.index_of(parse_archs(archs)), False
        arr = np.asarray(archs)
        if arr.ndim == 2 and arr.shape[1] == NUM_EDGES:
            return self.order.index_of(arr), False
        if arr.ndim <= 1:
            return check_indices(arr.reshape(-1)), False
        raise OracleQueryError(f"cells must be indices, arch strings or an (n, {NUM_EDGES}) op-id array; "
                               f"got an array of shape {arr.shape}")

    # -- values ------------------------------------------------------------------------------------------
    def query(self, archs=None, *, dataset: str, split: str, hp: int = 200, metric: str = "accuracy",
              seed: int | None = None, epoch: int | None = None):
        """`metric` of the models trained on `dataset` for `hp` epochs, measured on `split`.

        seed: one trial's value, or None for the mean over the trials the benchmark ran.
        epoch: 0-based epoch (nats_bench's `iepoch`: 199 is the last of 200), or None for the final one.
        """
        info = self.series_info(metric, dataset, split, hp)
        values = self._series_values(info, seed, epoch)
        idx, scalar = self._resolve(archs)
        out = values[idx]
        return out[0] if scalar else out

    def accuracy(self, archs=None, **where):
        """Top-1 accuracy in percent; see `query` for the arguments."""
        return self.query(archs, metric="accuracy", **where)

    def loss(self, archs=None, **where):
        return self.query(archs, metric="loss", **where)

    def cost(self, metric: str, archs=None, *, dataset: str = "cifar10"):
        """Network cost on `dataset`'s input size and head: params (M), flops (M) or latency (s)."""
        key = CostKey(metric, dataset)
        if key not in self.cost_keys:
            have = ", ".join(str(k) for k in sorted(self.cost_keys)) or "none"
            if metric not in COSTS:
                raise OracleQueryError(f"unknown cost {metric!r}; costs are {', '.join(COSTS)}")
            raise OracleQueryError(f"this table has no {metric} for dataset {dataset!r}; it has: {have}")
        values = self._column(key.column())
        idx, scalar = self._resolve(archs)
        return values[idx][0] if scalar else values[idx]

    def schedule_seconds(self, archs=None, *, dataset: str, split: str, hp: int, seed: int | None = None):
        """Seconds the benchmark recorded for the whole `hp`-epoch schedule on `split`: training (split `train`)
        or evaluating on an evaluation split after every epoch; one seed's, or (seed=None) the mean over seeds.

        The sum of the per-epoch `seconds`, as the benchmark's APIs compute it (read in D-X-Y/NATS-Bench
        nats_bench/api_utils.py `ResultsCount.get_train`/`get_eval`, nats_bench/api_topology.py `get_more_info`;
        D-X-Y/NAS-Bench-201 nas_201_api/api_201.py `get_more_info` is the same): with iepoch=None (the last epoch),
        `train-all-time` is the sum of `train_times` over all epochs, split `train` here; `valid-per-time` is the sum
        of `eval_times['x-valid@i']` over all epochs divided by their number (one mean epoch's evaluation), so
        split `x-valid` here is `valid-all-time` = `valid-per-time * hp` (`test-` and `valtest-per-time` likewise).
        is_random=SEED takes that trial's times (seed=S here), is_random=False the mean of the trials' sums
        (seed=None). NB201's search scripts charge a query `train-all-time + valid-per-time` of one random seed:
        `schedule_seconds(split="train", seed=S) + schedule_seconds(split="x-valid", seed=S) / hp`.
        """
        if not any(key.metric == "seconds" for key in self.series):
            raise OracleQueryError(self._no_times())
        info = self.series_info("seconds", dataset, split, hp)
        key = info.key
        self._check_seed(info, seed)
        if info.curve_epochs != list(range(info.num_epochs)):
            recorded = f"epochs {' '.join(map(str, info.curve_epochs))}" if info.curve_epochs else "its final epoch"
            raise OracleQueryError(f"{key} is recorded at {recorded} by this source, not at every epoch "
                                   f"0..{info.num_epochs - 1}, so its schedule's seconds cannot be summed; "
                                   f"query(metric='seconds') gives the recorded epochs")
        seeds = info.seeds if seed is None else [seed]
        without = [s for s in seeds if s not in info.curve_seeds]
        if without:
            raise OracleQueryError(f"seed {without[0]} of {key} has no per-epoch seconds, so its schedule cannot be "
                                   f"summed; seeds with them: {', '.join(map(str, info.curve_seeds))}")
        sums = np.stack([self._column(key.curve_column(s)).sum(axis=1) for s in seeds])  # a missing epoch: NaN
        values = sums[0] if len(seeds) == 1 else mean_over_seeds(sums)
        idx, scalar = self._resolve(archs)
        return values[idx][0] if scalar else values[idx]

    def _no_times(self) -> str:
        source, importer = self.meta["source"], self.meta["importer"]
        if source["kind"] in ("nb201-pth", "nats-tss") and importer["version"] < 2:
            why = (f"it was imported by {importer['name']} v{importer['version']}, which dropped them: re-import "
                   f"{source['name']} with `harness oracle import`")
        else:
            why = ("import the official NAS-Bench-201 .pth (NAS-Bench-201-v1_1-096897.pth) or the NATS-Bench tss "
                   "archive (NATS-tss-v1_0-3ffb9-simple), which record every epoch's training and evaluation seconds")
        return f"this ground truth ({source['name']}, a {source['kind']} source) records no times; {why}"

    def best(self, *, dataset: str, split: str, hp: int = 200, metric: str = "accuracy") -> tuple[int, float]:
        """(official index, value) of the best cell: highest accuracy, or lowest loss or seconds."""
        top = self.top_k(1, dataset=dataset, split=split, hp=hp, metric=metric)
        return int(top[0]), float(self.query(int(top[0]), dataset=dataset, split=split, hp=hp, metric=metric))

    def top_k(self, k: int, *, dataset: str, split: str, hp: int = 200, metric: str = "accuracy") -> np.ndarray:
        """Official indices of the k best cells, best first; ties go to the lower index, NaN never ranks."""
        values = self.query(dataset=dataset, split=split, hp=hp, metric=metric)
        finite = np.flatnonzero(np.isfinite(values))
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(finite):
            raise OracleQueryError(f"k must be an integer in 1..{len(finite)} (the cells with a value), got {k!r}")
        sign = 1.0 if metric in ("loss", "seconds") else -1.0
        order = finite[np.lexsort((finite, sign * values[finite]))]
        return order[:k]

    def operator_scores(self, *, dataset: str, split: str, hp: int = 200, metric: str = "accuracy") -> np.ndarray:
        """(6, 5) ground-truth operator scores: mean value of the cells holding op o on edge e."""
        values = self.query(dataset=dataset, split=split, hp=hp, metric=metric)
        return operator_means(self.order.cells, values)

    def by_class(self, *, dataset: str, split: str, hp: int = 200, metric: str = "accuracy",
                 how: str = "mean") -> pd.DataFrame:
        """One row per isomorphism class: its size, representative (lowest official index) and aggregated value."""
        if how not in ("mean", "min", "max", "median", "first"):
            raise OracleQueryError(f"how must be one of mean, min, max, median, first; got {how!r}")
        frame = pd.DataFrame({"class_id": class_ids(self.order.cells), "index": np.arange(NUM_CELLS),
                              "value": self.query(dataset=dataset, split=split, hp=hp, metric=metric)})
        groups = frame.groupby("class_id", sort=True)
        value = groups["value"].first() if how == "first" else groups["value"].agg(how)
        return pd.DataFrame({"size": groups.size(), "representative": groups["index"].min(), "value": value})

    # -- what exists -------------------------------------------------------------------------------------
    def available(self) -> pd.DataFrame:
        """One row per recorded series: seeds with per-seed values and epochs with per-epoch values."""
        rows = []
        for key, info in sorted(self.series.items()):
            epochs = info.curve_epochs
            rows.append({"metric": key.metric, "dataset": key.dataset, "split": key.split, "hp": key.hp,
                         "seeds": " ".join(map(str, info.seeds)) or "mean only",
                         "epochs": (f"0..{info.num_epochs - 1}" if len(epochs) == info.num_epochs
                                    else " ".join(map(str, epochs)) if epochs else f"final ({info.num_epochs - 1})")})
        return pd.DataFrame(rows)

    def series_info(self, metric: str, dataset: str, split: str, hp: int) -> SeriesInfo:
        """The recorded series, or an `OracleQueryError` that lists what exists instead."""
        key = SeriesKey(metric, dataset, split, int(hp))
        if key in self.series:
            return self.series[key]
        have = list(self.series)
        datasets = sorted({k.dataset for k in have})
        if metric not in METRICS:
            raise OracleQueryError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")
        if dataset not in datasets:
            hint = "" if dataset in DATASETS else f" (NB201's datasets are {', '.join(DATASETS)})"
            raise OracleQueryError(f"dataset {dataset!r} is not in this table{hint}; it has {', '.join(datasets)}")
        if dataset == "cifar10" and split in ("valid", "x-valid"):
            raise OracleQueryError(CIFAR10_HAS_NO_VALID)
        splits = sorted({k.split for k in have if k.dataset == dataset})
        if split not in splits:
            hint = ""
            if split in ("valid", "test"):
                hint = " (NB201 names the held-out halves 'x-valid' and 'x-test', the full test set 'ori-test')"
            raise OracleQueryError(f"split {split!r} does not exist for dataset {dataset!r}{hint}; "
                                   f"this table has {', '.join(splits)}")
        hps = sorted({k.hp for k in have if k.dataset == dataset and k.split == split})
        if int(hp) not in hps:
            raise OracleQueryError(f"hp {hp} is not recorded for {dataset}/{split}; recorded training schedules "
                                   f"(epochs): {', '.join(map(str, hps))}")
        metrics = sorted({k.metric for k in have if (k.dataset, k.split, k.hp) == (dataset, split, int(hp))})
        raise OracleQueryError(f"{metric} is not recorded for {dataset}/{split}@{hp}; this table has "
                               f"{', '.join(metrics)} for it")

    def _check_seed(self, info: SeriesInfo, seed: int | None) -> None:
        if seed is not None and seed not in info.seeds:
            recorded = ", ".join(map(str, info.seeds)) if info.seeds else "none: this source has only the mean"
            raise OracleQueryError(f"seed {seed!r} is not recorded for {info.key}; recorded seeds: {recorded}. "
                                   f"Pass seed=None for the mean over seeds.")

    def _series_values(self, info: SeriesInfo, seed: int | None, epoch: int | None) -> np.ndarray:
        key, last = info.key, info.num_epochs - 1
        self._check_seed(info, seed)
        if epoch is not None:
            if not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= last:
                raise OracleQueryError(f"epoch {epoch!r} is out of range for {key}: epochs are 0-based, "
                                       f"0..{last} (nats_bench's iepoch; {last} is the final epoch)")
            if epoch != last:
                return self._curve_values(info, seed, int(epoch))
        return self._column(key.column(seed))

    def _curve_values(self, info: SeriesInfo, seed: int | None, epoch: int) -> np.ndarray:
        key, last = info.key, info.num_epochs - 1
        if epoch not in info.curve_epochs:
            recorded = (f"epochs {info.curve_epochs[0]}..{info.curve_epochs[-1]}" if info.curve_epochs
                        else f"its final epoch ({last}) only")
            raise OracleQueryError(f"{key} was recorded at {recorded} by this source, not at epoch {epoch}; "
                                   f"ask for epoch=None (final) or a recorded epoch")
        seeds = info.curve_seeds if seed is None else [seed]
        if not set(seeds) <= set(info.curve_seeds) or not seeds:
            raise OracleQueryError(f"seed {seed} of {key} has no per-epoch values; seeds with curves: "
                                   f"{', '.join(map(str, info.curve_seeds))}")
        stacked = np.stack([self._column(key.curve_column(s))[:, epoch] for s in seeds])
        return stacked[0] if len(seeds) == 1 else mean_over_seeds(stacked)

    def _column(self, name: str) -> np.ndarray:
        values = self._columns.get(name)
        if values is None:
            column = self._read(name)
            if pa.types.is_fixed_size_list(column.type):
                values = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
            else:
                values = column.to_numpy()
            values.setflags(write=False)
            self._columns[name] = values
        return values


    def _read(self, name: str) -> pa.Array:
        """One column, checked against its recorded sha256; a damaged page or value is a corrupt cache."""
        try:
            column = self._file.read(columns=[name]).column(0).combine_chunks()
        except (OSError, pa.ArrowException) as exc:
            raise corrupt(self.path, f"column {name!r} does not read ({' '.join(str(exc).split())})") from None
        check_column(self.path, self.meta, name, column)
        return column


def load(path: str | Path | None = None) -> Oracle:
    """The oracle at `path`, `$HARNESS_ORACLE`, or `$HARNESS_DATA_DIR/nb201-oracle.parquet`, in that order; with
    none of them, the mean ground truth shipped in the package (`harness.paths.EMBEDDED_ORACLE`)."""
    return Oracle(path)
