"""Where the harness looks for its files: an explicit path first, then an environment variable, then a default that
does not depend on the working directory.

- `HARNESS_DATA_DIR`: imported caches and images (default: the per-user data directory, e.g.
  `~/.local/share/nb201-harness` on Linux, `platformdirs.user_data_dir`).
- `HARNESS_ORACLE`: the ground-truth cache to load (default: `$HARNESS_DATA_DIR/nb201-oracle.parquet` when one was
  imported, else the mean ground truth shipped in the package, `EMBEDDED_ORACLE`).
- Images: `--data-root`, default `$HARNESS_DATA_DIR/images`, one directory holding any of `cifar-10-batches-py/`,
  `cifar-100-python/` and `ImageNet16/`.
- The benchmark's split files: `--splits`, else `$NB201_DATA/splits` where it exists, else the copy shipped in the
  package (the same files: tests/test_resources.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ORACLE_FILENAME = "nb201-oracle.parquet"
RESOURCES = Path(__file__).resolve().parent / "resources"
#: NB201 v1_1's mean ground truth (what ../shared/nb201/table.csv holds), built by tools/build-resources
EMBEDDED_ORACLE = RESOURCES / "nb201-v1_1-mean.parquet"
#: the benchmark's own split files, copied by tools/build-resources
EMBEDDED_SPLITS = RESOURCES / "splits"


def data_dir() -> Path:
    if os.environ.get("HARNESS_DATA_DIR"):
        return Path(os.environ["HARNESS_DATA_DIR"])
    return Path(platformdirs.user_data_dir("nb201-harness", appauthor=False))


def images_dir() -> Path:
    return data_dir() / "images"


def oracle_path(path: str | os.PathLike | None = None) -> Path:
    """Where a cache is imported to and looked for first."""
    if path is not None:
        return Path(path)
    if os.environ.get("HARNESS_ORACLE"):
        return Path(os.environ["HARNESS_ORACLE"])
    return data_dir() / ORACLE_FILENAME


def find_oracle(path: str | os.PathLike | None = None) -> Path:
    """The cache to load: as `oracle_path`, falling back to the embedded mean ground truth when nothing was named
    and nothing was imported (an imported official file, with seeds, curves and costs, takes precedence)."""
    found = oracle_path(path)
    if path is None and not os.environ.get("HARNESS_ORACLE") and not found.exists():
        return EMBEDDED_ORACLE
    return found


def splits_dir(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    beside = Path(os.environ["NB201_DATA"]) / "splits" if os.environ.get("NB201_DATA") else None
    return beside if beside is not None and beside.is_dir() else EMBEDDED_SPLITS
