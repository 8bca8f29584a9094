"""The ground-truth cache: one pickle-free parquet file, one row per cell in official index order.

Columns: `index`, `code` (product-order code of the cell), `arch`, then the final-epoch values
(`accuracy:cifar10/ori-test@200`, per seed `...:seed=777`), the costs (`params_mb@cifar10`), and per-epoch
curves as fixed-size lists (`curve:accuracy:cifar10-valid/x-valid@200:seed=777`, the recorded times
`curve:seconds:cifar10-valid/train@12:seed=777`). NaN wherever the source has no value. The schema metadata
holds the provenance and an index of what exists, so a query can be checked, and refused with a list of what
exists, without reading any data. Columns are read lazily, one at a time, and each is checked against the sha256 of
its values recorded when it was written (the metadata against its own): a byte flipped anywhere in the file is
"corrupt cache, re-import", never a wrong value.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.atomic import atomic_write
from harness.errors import MissingTableError, SourceError
from harness.oracle.keys import CostKey, SeriesKey
from harness.provenance import code_version
from harness.space import NUM_CELLS, IndexOrder, format_archs

FORMAT = "nb201-harness-oracle"
FORMAT_VERSION = 2  # 2: every column's sha256 and the metadata's own
_META_KEY = b"nb201_harness"
_META_DIGEST_KEY = b"nb201_harness_sha256"
#: cells per parquet row group: bounds the memory of writing per-epoch curves
ROW_GROUP = 2048


@dataclass
class SeriesInfo:
    """What the cache holds for one series: per-seed values for `seeds`, per-epoch values for `curve_epochs`."""

    key: SeriesKey
    num_epochs: int
    seeds: list[int] = field(default_factory=list)
    curve_epochs: list[int] = field(default_factory=list)  # empty: final epoch only
    curve_seeds: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        k = self.key
        return {"metric": k.metric, "dataset": k.dataset, "split": k.split, "hp": k.hp, "num_epochs": self.num_epochs,
                "seeds": self.seeds, "curve_epochs": self.curve_epochs, "curve_seeds": self.curve_seeds}

    @classmethod
    def from_json(cls, d: dict) -> SeriesInfo:
        return cls(SeriesKey(d["metric"], d["dataset"], d["split"], d["hp"]), d["num_epochs"], d["seeds"],
                   d["curve_epochs"], d["curve_seeds"])


class GroundTruthBuilder:
    """Collects values cell by cell during an import, then writes the cache atomically.

    Final values are dense (one array per series and seed); per-epoch curves are kept per cell and only
    made dense one row group at a time, so memory follows what the source holds, not 15,625 x epochs.
    """

    def __init__(self, order: IndexOrder):
        self.order = order
        self.means: dict[SeriesKey, np.ndarray] = {}
        self.seeds: dict[SeriesKey, dict[int, np.ndarray]] = {}
        self.curves: dict[SeriesKey, dict[int, dict[int, np.ndarray]]] = {}
        self.epochs_seen: dict[SeriesKey, np.ndarray] = {}
        self.num_epochs: dict[SeriesKey, int] = {}
        self.costs: dict[CostKey, np.ndarray] = {}

    def set_mean(self, key: SeriesKey, values: np.ndarray, num_epochs: int) -> None:
        """Mean-over-seeds final values for all cells at once (a source that has only means)."""
        self._epochs(key, num_epochs)
        self.means[key] = np.asarray(values, dtype=np.float64)

    def set_seed(self, key: SeriesKey, seed: int, index: int, per_epoch: dict[int, float], num_epochs: int) -> None:
        """One trial's values of one cell, by epoch (0-based); the last epoch is the final value."""
        seen = self._epochs(key, num_epochs)
        final = per_epoch.get(num_epochs - 1, np.nan)
        self.seeds.setdefault(key, {}).setdefault(seed, np.full(NUM_CELLS, np.nan))[index] = final
        for epoch in per_epoch:
            seen[epoch] = True
        if set(per_epoch) - {num_epochs - 1}:
            curve = np.full(num_epochs, np.nan)
            curve[list(per_epoch)] = list(per_epoch.values())
            self.curves.setdefault(key, {}).setdefault(seed, {})[index] = curve

    def set_cost(self, key: CostKey, index: int | slice, value) -> None:
        self.costs.setdefault(key, np.full(NUM_CELLS, np.nan))[index] = value

    def has_cost(self, key: CostKey, index: int) -> bool:
        return key in self.costs and bool(np.isfinite(self.costs[key][index]))

    def _epochs(self, key: SeriesKey, num_epochs: int) -> np.ndarray:
        if self.num_epochs.setdefault(key, num_epochs) != num_epochs:
            raise SourceError(f"{key} is recorded with {self.num_epochs[key]} and with {num_epochs} epochs; "
                              f"the source is inconsistent")
        return self.epochs_seen.setdefault(key, np.zeros(num_epochs, dtype=bool))

    def write(self, path: str | Path, provenance: dict) -> Path:
        """Write the cache to `path` through a temporary file in the same directory; returns the path."""
        path = Path(path)
        floats: dict[str, np.ndarray] = {}  # column name -> value per cell
        curves: dict[str, tuple[dict[int, np.ndarray], np.ndarray, int]] = {}  # per cell, finals, epochs
        series = []
        for key in sorted(self.num_epochs):
            seeds = self.seeds.get(key, {})
            mean = self.means.get(key)
            floats[key.column()] = mean if mean is not None else mean_over_seeds(np.stack(list(seeds.values())))
            for seed in sorted(seeds):
                floats[key.column(seed)] = seeds[seed]
            key_curves = self.curves.get(key, {})
            for seed in sorted(key_curves):
                curves[key.curve_column(seed)] = (key_curves[seed], seeds[seed], self.num_epochs[key])
            curve_epochs = np.flatnonzero(self.epochs_seen[key]).tolist() if key_curves else []
            series.append(SeriesInfo(key, self.num_epochs[key], sorted(seeds), curve_epochs, sorted(key_curves)))
        for key in sorted(self.costs):
            floats[key.column()] = self.costs[key]
        have_values = np.zeros(NUM_CELLS, dtype=bool)
        for info in series:
            have_values |= np.isfinite(floats[info.key.column()])
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, **provenance,
            "harness_version": code_version(), "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cells_with_values": int(have_values.sum()), "series": [info.to_json() for info in series],
            "costs": [{"metric": k.metric, "dataset": k.dataset} for k in sorted(self.costs)],
        }
        index, codes = np.arange(NUM_CELLS, dtype=np.int32), self.order.codes.astype(np.int32)
        archs = np.array(format_archs(self.order.cells), dtype=object)
        fields = [pa.field("index", pa.int32()), pa.field("code", pa.int32()), pa.field("arch", pa.string())]
        fields += [pa.field(name, pa.float64()) for name in floats]
        fields += [pa.field(name, pa.list_(pa.float64(), epochs)) for name, (_, _, epochs) in curves.items()]
        schema = pa.schema(fields)

        def row_group(start: int, stop: int) -> pa.Table:
            arrays = [pa.array(index[start:stop]), pa.array(codes[start:stop]), pa.array(archs[start:stop], pa.string())]
            arrays += [pa.array(values[start:stop]) for values in floats.values()]
            for per_cell, finals, num_epochs in curves.values():
                block = np.full((stop - start, num_epochs), np.nan)
                block[:, -1] = finals[start:stop]
                for cell in range(start, stop):
                    if cell in per_cell:
                        block[cell - start] = per_cell[cell]
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), num_epochs))
            return pa.Table.from_arrays(arrays, schema=schema)

        def row_groups():
            for start in range(0, NUM_CELLS, ROW_GROUP):
                yield row_group(start, min(start + ROW_GROUP, NUM_CELLS))

        digests = {name: hashlib.sha256() for name in schema.names}
        for table in row_groups():  # a first pass for the digests, which go into the metadata written first
            for name, column in zip(table.column_names, table.columns):
                digests[name].update(column_bytes(column))
        meta["column_sha256"] = {name: digest.hexdigest() for name, digest in digests.items()}
        raw = json.dumps(meta).encode()
        schema = schema.with_metadata({_META_KEY: raw, _META_DIGEST_KEY: hashlib.sha256(raw).hexdigest().encode()})

        def write(tmp: str) -> None:
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for table in row_groups():
                    writer.write_table(table)

        atomic_write(path, write)
        return path


def column_bytes(column: pa.Array | pa.ChunkedArray) -> bytes:
    """The bytes a column's digest is taken over: its values as numpy holds them (arch strings joined by NUL)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        column = column.flatten()
    if pa.types.is_string(column.type):
        return "\0".join(column.to_pylist()).encode() + b"\0"
    return np.ascontiguousarray(column.to_numpy(zero_copy_only=False)).tobytes()


def check_column(path: Path, meta: dict, name: str, column: pa.Array | pa.ChunkedArray) -> None:
    """Refuse a column whose values are not those written (a flipped byte, a damaged page)."""
    if hashlib.sha256(column_bytes(column)).hexdigest() != meta["column_sha256"].get(name):
        raise corrupt(path, f"column {name!r} does not match its recorded sha256")


def corrupt(path: Path, what: str) -> SourceError:
    return SourceError(f"corrupt ground-truth cache {path}: {what}; re-import it with `harness oracle import SRC "
                       f"--out {path}` (the file it was imported from: `harness oracle info` names it)")


def mean_over_seeds(stacked: np.ndarray) -> np.ndarray:
    """Per-cell mean over the trials that have a value (rows: seeds), as the benchmark averages; NaN if none."""
    with np.errstate(all="ignore"):
        counts = np.isfinite(stacked).sum(axis=0)
        return np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)


def open_cache(path: Path) -> tuple[pq.ParquetFile, dict]:
    """The open parquet file and its metadata; a missing or foreign file raises with what to do."""
    if not path.exists():
        raise MissingTableError(
            f"no ground-truth table at {path}. Import one first, e.g. `harness oracle import ../shared/nb201/table.csv "
            f"--benchmark-version v1_1` or the official NAS-Bench-201-v1_1-096897.pth / NATS-tss-v1_0-3ffb9-simple "
            f"(see README, 'Ground truth'); or point --cache / HARNESS_ORACLE at an existing cache.")
    try:
        file = pq.ParquetFile(path)
        metadata = file.schema_arrow.metadata or {}
        raw = metadata.get(_META_KEY)
        meta = json.loads(raw) if raw else None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise SourceError(f"{path} is not a readable ground-truth cache ({' '.join(str(exc).split())}); re-import "
                          f"it with `harness oracle import SRC --out {path}`") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SourceError(f"{path} is a parquet file but not a ground-truth cache made by `harness oracle import`")
    if meta.get("format_version") != FORMAT_VERSION:
        raise SourceError(f"{path} has cache format {meta.get('format_version')}, this harness reads "
                          f"{FORMAT_VERSION}; re-import the source with `harness oracle import`")
    if hashlib.sha256(raw).hexdigest().encode() != metadata.get(_META_DIGEST_KEY):
        raise corrupt(path, "its metadata does not match its recorded sha256")
    return file, meta
