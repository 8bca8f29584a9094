"""Importer for plain tables (CSV or parquet): `index` and/or `arch`, then `DATASET/SPLIT@HP` columns.

A table with both `index` and `arch` for all 15,625 cells defines the official order itself; any other
table takes it from an existing cache (`order_from`), and its rows are checked against it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import ArchStringError, SourceError
from harness.oracle.cache import GroundTruthBuilder
from harness.oracle.keys import CostKey, parse_column
from harness.space import NUM_CELLS, IndexOrder, encode, parse_archs

_RANGES = {"accuracy": (0.0, 100.0), "loss": (0.0, np.inf), "seconds": (0.0, np.inf), "params": (0.0, np.inf),
           "flops": (0.0, np.inf), "latency": (0.0, np.inf)}


def read_table(path: Path, order: IndexOrder | None = None) -> GroundTruthBuilder:
    frame = _read_frame(path)
    where = str(path)
    if "index" not in frame and "arch" not in frame:
        raise SourceError(f"{where} has neither an 'index' nor an 'arch' column; a ground-truth table needs one or "
                          f"both to say which cell each row is (columns: {', '.join(map(str, frame.columns[:8]))}...)")
    keys = {col: parse_column(str(col)) for col in frame.columns if col not in ("index", "arch")}
    if not keys:
        raise SourceError(f"{where} has no value columns; expected columns like 'cifar10/ori-test@200'")
    indices, order = _rows(frame, order, where)
    builder = GroundTruthBuilder(order)
    for col, key in keys.items():
        values = _values(frame[col], col, key, where)
        full = np.full(NUM_CELLS, np.nan)
        full[indices] = values
        if isinstance(key, CostKey):
            builder.set_cost(key, slice(None), full)
            continue
        series, seed = key
        if seed is None:
            builder.set_mean(series, full, num_epochs=series.hp)
        else:
            for index, value in zip(indices, values):
                builder.set_seed(series, seed, int(index), {series.hp - 1: float(value)}, series.hp)
    return builder


def _read_frame(path: Path) -> pd.DataFrame:
    if path.suffix != ".parquet" and path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                raise SourceError(f"{path} ends in the middle of a row: it looks truncated; write or copy it again")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types for damaged files
        raise SourceError(f"{path} could not be read as a {'parquet' if path.suffix == '.parquet' else 'CSV'} "
                          f"table ({type(exc).__name__}: {exc})") from None


def _rows(frame: pd.DataFrame, order: IndexOrder | None, where: str) -> tuple[np.ndarray, IndexOrder]:
    index = _index_column(frame["index"], where) if "index" in frame else None
    try:
        cells = parse_archs(frame["arch"], what=f"rows of {where}") if "arch" in frame else None
    except ArchStringError as exc:
        raise SourceError(str(exc)) from None
    codes = encode(cells) if cells is not None else None
    for name, values in (("index", index), ("arch", codes)):
        if values is not None:
            uniq, counts = np.unique(values, return_counts=True)
            if (counts > 1).any():
                dup = frame[name][values == uniq[counts > 1][0]]
                raise SourceError(f"{where}: {name} {dup.tolist()[0]!r} appears in rows {dup.index.tolist()[:5]}; "
                                  f"each cell may appear once")
    if order is None:
        if index is None or codes is None or len(frame) != NUM_CELLS:
            raise SourceError(f"{where} cannot define the official index order: that needs both 'index' and 'arch' "
                              f"for all {NUM_CELLS} cells (it has {len(frame)} rows, columns "
                              f"{'index ' if index is not None else ''}{'arch' if codes is not None else ''}). "
                              f"Pass --order-from CACHE to take the order from an imported benchmark file.")
        ordered = np.empty(NUM_CELLS, dtype=np.int64)
        ordered[index] = codes
        return index, IndexOrder(ordered)
    if index is None:
        return order.index_of(cells), order
    if codes is not None:
        wrong = np.flatnonzero(order.codes[index] != codes)
        if wrong.size:
            row = int(wrong[0])
            raise SourceError(f"{where}: row {row} says index {int(index[row])} is {frame['arch'].iloc[row]!r}, but the "
                              f"official order has {order.archs_of([index[row]])[0]!r} there")
    return index, order


def _index_column(column: pd.Series, where: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() | (values % 1 != 0) | (values < 0) | (values >= NUM_CELLS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(f"{where}: row {row} has index {column.iloc[row]!r}; indices are integers 0..{NUM_CELLS - 1}")
    return values.to_numpy(dtype=np.int64)


def _values(column: pd.Series, name: str, key, where: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    unparsable = np.isnan(values) & column.notna().to_numpy()
    if unparsable.any():
        row = int(np.flatnonzero(unparsable)[0])
        raise SourceError(f"{where}: column {name!r} row {row} holds {column.iloc[row]!r}, not a number")
    metric = key.metric if isinstance(key, CostKey) else key[0].metric
    low, high = _RANGES[metric]
    out = np.isfinite(values) & ((values < low) | (values > high))
    out |= np.isinf(values)
    if metric == "accuracy" and np.isfinite(values).any() and np.nanmax(values) <= 1.0:
        raise SourceError(f"{where}: column {name!r} holds values in 0..1; accuracies must be percentages 0..100 "
                          f"(multiply by 100)")
    if out.any():
        row = int(np.flatnonzero(out)[0])
        raise SourceError(f"{where}: column {name!r} row {row} holds {float(values[row])!r}, outside {low}..{high} for "
                          f"{metric}")
    return values
