"""`harness reproduce`: the papers' proxy-ranking tables, measured with the harness beside the published numbers.

Each table is a module with `PRESETS` (tiny for tests, cpu for a 2-core machine, gpu and paper for the papers'
settings) and `run(preset, out, *, oracle, data_root, splits_dir, seed, progress) -> list[Row]`. The modules load
when a table runs, so that building the command line stays cheap.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from harness.errors import HarnessError

#: table name -> its module in this package
TABLES = {"abs-correlation": "abs_correlation_table", "econas": "econas_table", "weaknas": "weaknas_table",
          "zero-cost": "zero_cost_table"}

__all__ = ["TABLES", "reproduce"]


def reproduce(table: str, preset: str, out: str | Path, *, oracle, data_root: str | None = None,
              splits_dir: str | None = None, seed: int = 0, progress: bool = True):
    """Measure `table` at `preset` into `out` (rows.csv, table.md, provenance.json); returns the rows' frame."""
    from harness.reproduce.results import write_results

    if table not in TABLES:
        raise HarnessError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    module = importlib.import_module(f"harness.reproduce.{TABLES[table]}")
    if preset not in module.PRESETS:
        raise HarnessError(f"unknown preset {preset!r} for {table}; presets: {', '.join(module.PRESETS)}")
    out = Path(out)
    rows = module.run(preset, out, oracle=oracle, data_root=data_root, splits_dir=splits_dir, seed=seed,
                      progress=progress)
    extra = {"preset_settings": repr(module.PRESETS[preset]), "seed": seed, "data_root": data_root,
             "ground_truth": oracle.provenance}
    return write_results(out, table, preset, rows, extra)
