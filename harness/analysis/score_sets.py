"""Score sets: a proxy's score for some cells, with the provenance that says how it was made.

On disk: CSV or parquet with `arch` (arch string) and/or `index` (official index) and `score` columns.
Provenance (proxy, version, settings, seeds, the ground-truth table's hash, seconds, ...) travels in a sidecar
`NAME.meta.json` beside a CSV, or in a parquet file's own metadata. A user's own proxy, computed anywhere, is
evaluated by writing such a file.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.atomic import atomic_write
from harness.errors import ArchStringError, HarnessError
from harness.space import IndexOrder, check_indices, encode, format_archs, parse_archs

_PARQUET_KEY = b"nb201_harness_provenance"


@dataclass
class ScoreSet:
    """Scores of `cells` ((n, 6) op ids), one float per cell (NaN and inf allowed: they are counted and
    excluded), with free-form provenance."""

    name: str
    cells: np.ndarray
    scores: np.ndarray
    provenance: dict = field(default_factory=dict)
    source: str = ""  # the file it was read from, if any


def distinct_names(score_sets: list[ScoreSet]) -> list[ScoreSet]:
    """The same sets, renamed where names collide (seeds of one proxy): 'name (file stem)' or 'name #i'."""
    counts: dict[str, int] = {}
    for sset in score_sets:
        counts[sset.name] = counts.get(sset.name, 0) + 1
    out = []
    for i, sset in enumerate(score_sets):
        if counts[sset.name] > 1:
            suffix = Path(sset.source).stem if sset.source else f"#{i + 1}"
            sset = replace(sset, name=f"{sset.name} ({suffix})")
        out.append(sset)
    return out


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.json")


def read_scores(path: str | Path, order: IndexOrder | None = None, name: str | None = None) -> ScoreSet:
    """Read a score file; `order` (the oracle's) resolves `index` columns and checks `index` against `arch`."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"score file {path} does not exist; a score file is a CSV or parquet with 'arch' "
                           f"and/or 'index' columns and a 'score' column")
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            raw = (table.schema.metadata or {}).get(_PARQUET_KEY)
            provenance = json.loads(raw) if raw else {}
            frame = table.to_pandas()
        else:
            frame = pd.read_csv(path)
            side = sidecar_path(path)
            provenance = json.loads(side.read_text()) if side.is_file() else {}
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise HarnessError(f"score file {path} could not be read ({type(exc).__name__}: {exc})") from None
    if "score" not in frame:
        raise HarnessError(f"score file {path} has no 'score' column (columns: {', '.join(map(str, frame.columns))})")
    cells = frame_cells(frame, path, order)
    codes = encode(cells)
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = int(codes[first[counts > 1][0]])
        rows = np.flatnonzero(codes == dup).tolist()
        raise HarnessError(f"score file {path}: the cell {format_archs(cells[rows[:1]])[0]!r} appears in rows {rows[:5]}"
                           f" ({int((counts > 1).sum())} cells appear more than once); give each cell one score")
    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(scores) & frame["score"].notna().to_numpy() & ~frame["score"].astype(str).str.lower().isin(
        ["nan", "inf", "-inf", "infinity", "-infinity"]).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise HarnessError(f"score file {path}: row {row} has score {frame['score'].iloc[row]!r}, not a number")
    return ScoreSet(name or str(provenance.get("proxy") or path.stem), cells, scores, provenance, str(path))


def frame_cells(frame: pd.DataFrame, path: Path, order: IndexOrder | None) -> np.ndarray:
    """The cells a table names by `arch` and/or `index` (checked against each other with `order`)."""
    if "arch" not in frame and "index" not in frame:
        raise HarnessError(f"score file {path} needs an 'arch' (arch string) or 'index' (official index) column; "
                           f"it has {', '.join(map(str, frame.columns))}")
    cells = None
    if "arch" in frame:
        try:
            cells = parse_archs(frame["arch"].tolist(), what=f"rows of {path}")
        except ArchStringError as exc:
            raise HarnessError(str(exc)) from None
    if "index" in frame:
        values = pd.to_numeric(frame["index"], errors="coerce")
        if values.isna().any() or (values % 1 != 0).any():
            row = int(np.flatnonzero((values.isna() | (values % 1 != 0)).to_numpy())[0])
            raise HarnessError(f"score file {path}: row {row} has index {frame['index'].iloc[row]!r}, not an integer")
        try:
            indices = check_indices(values.to_numpy(dtype=np.int64))
        except ArchStringError as exc:
            raise HarnessError(f"score file {path}: {exc}") from None
        if order is None:
            if cells is None:
                raise HarnessError(f"score file {path} gives cells by 'index' only; reading it needs the ground "
                                   f"truth's index order (load an oracle)")
        else:
            by_index = order.cells_of(indices)
            if cells is not None and not np.array_equal(by_index, cells):
                row = int(np.flatnonzero((by_index != cells).any(axis=1))[0])
                raise HarnessError(f"score file {path}: row {row} says index {int(indices[row])} is "
                                   f"{frame['arch'].iloc[row]!r}, but the official order has "
                                   f"{order.archs_of(indices[row:row + 1])[0]!r} there")
            cells = by_index
    return cells


def write_scores(path: str | Path, score_set: ScoreSet, order: IndexOrder | None = None) -> Path:
    """Write a score file (and, for CSV, its sidecar), each through a temporary file; `index` is added when
    `order` is given."""
    path = Path(path)
    columns = {"arch": format_archs(score_set.cells), "score": np.asarray(score_set.scores, dtype=np.float64)}
    if order is not None:
        columns = {"index": order.index_of(score_set.cells), **columns}
    frame = pd.DataFrame(columns)
    provenance = json.dumps(score_set.provenance, indent=2, sort_keys=True, default=str)
    if path.suffix == ".parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _PARQUET_KEY: provenance.encode()})
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    else:  # both files are written in full before either replaces what is there: a full disk leaves no mixed pair
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
            frame.to_csv(Path(tmp) / "scores.csv", index=False)
            (Path(tmp) / "meta.json").write_text(provenance + "\n")
            os.replace(Path(tmp) / "meta.json", sidecar_path(path))
            os.replace(Path(tmp) / "scores.csv", path)
    return path

