"""Import a benchmark file into the pickle-free ground-truth cache.

Official formats (`.pth`, NATS-Bench `.pickle.pbz2`) are pickles: importing one runs its unpickling,
so import only files you trust. The cache written from them is plain parquet and never unpickles.
"""
from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.errors import SourceError
from harness.oracle.importers.official import NATS_META, read_nats_tss, read_nb201_pth
from harness.oracle.importers.table import read_table
from harness.oracle.oracle import Oracle
from harness.paths import oracle_path
from harness.provenance import sha256_of

#: importer name -> (version of its reading rules, library it reads through); the official readers' v2 keeps
#: the recorded times (metric `seconds`), which v1 dropped
IMPORTERS = {"nb201-pth": (2, "nas-bench-201"), "nats-tss": (2, "nats_bench"), "table": (1, "pandas")}
_VERSION_PATTERNS = (
    (re.compile(r"NAS-Bench-201-(v\d+_\d+)-([0-9a-f]+)"), "NAS-Bench-201 {0} ({1})"),
    (re.compile(r"NATS-tss-(v\d+_\d+)-([0-9a-f]+)"), "NATS-Bench tss {0} ({1})"),
)


def detect_kind(src: Path) -> str:
    name = src.name
    if src.is_dir():
        return "nats-tss"
    if name.endswith(".pth"):
        return "nb201-pth"
    if name.endswith(".pbz2"):
        return "nats-tss"
    if src.suffix in (".csv", ".parquet"):
        return "table"
    raise SourceError(f"cannot tell what {src} is from its name; expected a NAS-Bench-201 .pth file, a NATS-Bench "
                      f"directory (with {NATS_META}) or .pickle.pbz2 file, or a .csv/.parquet table; "
                      f"pass --kind {'|'.join(IMPORTERS)}")


def detect_version(src: Path) -> str | None:
    for pattern, template in _VERSION_PATTERNS:
        if m := pattern.search(src.name):
            return template.format(*m.groups())
    return None


def import_source(src: str | Path, out: str | Path | None = None, *, kind: str = "auto",
                  benchmark_version: str | None = None, order_from: str | Path | None = None,
                  progress: bool = True, about: dict | None = None, record_path: bool = True) -> Path:
    """Read `src` and write the cache to `out` (default: the oracle path); returns the cache's path.

    Nothing is written unless the whole source reads cleanly. `about` adds to the recorded provenance (the embedded
    table's release and licence); `record_path=False` leaves out the source's path (a file that ships).
    """
    src, out = Path(src), oracle_path(out)
    if out.is_dir():
        raise SourceError(f"--out {out} is a directory; give the path of the cache file to write, "
                          f"e.g. {out / 'nb201-oracle.parquet'}")
    if not src.exists():
        raise SourceError(f"{src} does not exist; give the path of a benchmark file to import (see README, "
                          f"'Ground truth', for where to download the official files)")
    kind = detect_kind(src) if kind == "auto" else kind
    if kind not in IMPORTERS:
        raise SourceError(f"unknown kind {kind!r}; kinds are {', '.join(IMPORTERS)}")
    benchmark_version = benchmark_version or detect_version(src)
    if not benchmark_version:
        raise SourceError(f"{src.name} does not say which benchmark release it holds, and releases differ (v1_0, v1_1 "
                          f"and NATS-Bench disagree by up to a few points on thousands of cells); pass "
                          f"--benchmark-version, e.g. 'NAS-Bench-201 v1_1'")
    if kind == "table":
        builder = read_table(src, Oracle(order_from).order if order_from else None)
    elif kind == "nb201-pth":
        builder = read_nb201_pth(src, progress)
    else:
        builder = read_nats_tss(src, progress)
    rules, library = IMPORTERS[kind]
    try:
        library_version = version(library)
    except PackageNotFoundError:
        library_version = "unknown"
    provenance = {
        "source": {"name": src.name, **({"path": str(src.resolve())} if record_path else {}), "kind": kind,
                   "sha256": sha256_of(src)},
        "benchmark_version": benchmark_version,
        "importer": {"name": kind, "version": rules, "library": f"{library} {library_version}"},
        **(about or {}),
    }
    return builder.write(out, provenance)
