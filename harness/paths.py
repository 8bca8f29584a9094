"""Where the harness looks for its files: an explicit path first, then an environment variable, then a default.

- `HARNESS_DATA_DIR`: where imported caches live (default: `data/` in the working directory).
- `HARNESS_ORACLE`: the ground-truth cache to load (default: `$HARNESS_DATA_DIR/nb201-oracle.parquet`).

The main job and the tests read benchmark files from `NB201_DATA` (tox.ini, conftest.py), by default
`../shared/nb201` beside the project.
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

