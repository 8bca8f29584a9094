"""Where the harness looks for its files: an explicit path first, then an environment variable, then a default.

- `HARNESS_DATA_DIR`: where imported caches live (default: `data/` in the working directory).
- `HARNESS_ORACLE`: the ground-truth cache to load (default: `$HARNESS_DATA_DIR/nb201-oracle.parquet`).
- `NB201_DATA`: a directory holding benchmark files in the layout of `../shared/nb201`
  (`table.csv`, `nats-tss-sample/`, `splits/`); used by the main job and the tests.
"""
from __future__ import annotations

import os
from pathlib import Path

ORACLE_FILENAME = "nb201-oracle.parquet"


def data_dir() -> Path:
    return Path(os.environ.get("HARNESS_DATA_DIR", "data"))


def oracle_path(path: str | os.PathLike | None = None) -> Path:
    if path is not None:
        return Path(path)
    if os.environ.get("HARNESS_ORACLE"):
        return Path(os.environ["HARNESS_ORACLE"])
    return data_dir() / ORACLE_FILENAME


def nb201_data_dir() -> Path | None:
    value = os.environ.get("NB201_DATA")
    return Path(value) if value else None
