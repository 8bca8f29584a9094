"""`harness reproduce`: the papers' proxy-ranking tables, measured with the harness beside the published numbers.

Each table is a module with `PRESETS` (tiny for tests, cpu for a 2-core machine, gpu and paper for the papers'
settings) and `run(preset, out, inputs: Inputs) -> list[Row]`. The modules load when a table runs, so that
building the command line stays cheap. `reproduce_all` is the main job: every table, then the overview.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from harness.errors import HarnessError

#: table name -> its module in this package
TABLES = {"abs-correlation": "abs_correlation_table", "abs-shrinking": "abs_shrinking_table",
          "econas": "econas_table", "eps-top20": "eps_top20_table", "weaknas": "weaknas_table",
          "zero-cost": "zero_cost_table"}

#: the order the main job measures them in: the training-free tables first, the supernet ones last
MAIN_ORDER = ("weaknas", "zero-cost", "econas", "abs-correlation", "eps-top20", "abs-shrinking")

__all__ = ["MAIN_ORDER", "TABLES", "reproduce", "reproduce_all"]


def table_code_hash(table: str) -> str:
    """The code hash of a table: its module and everything it imports, and the built-in proxies (which the
    registry loads by name, so no import statement reaches them)."""
    from harness.proxies.registry import BUILTIN_MODULES
    from harness.provenance import code_hash

    return code_hash(__name__, f"{__name__}.{TABLES[table]}", *BUILTIN_MODULES)


def reproduce(table: str, preset: str, out: str | Path, *, oracle, data_root: str | None = None,
              splits_dir: str | None = None, seed: int = 0, progress: bool = True, runs: str | Path | None = None,
              scores: str | Path | None = None, force: bool = False, from_scores: bool = False, prepare=None):
    """Measure `table` at `preset` into `out` (rows.csv, table.md, figure.png, provenance.json); returns the rows'
    frame. Supernets are kept in `runs`, score files and histories in the store `scores` (by default both beside
    `out`, as the main job keeps them: `out/../runs`, `out/../scores`). A table `out` already holds from the same code, preset, settings, seed and data is
    returned as it is unless `force`; an interrupted one resumes from its runs and score files. `from_scores`
    re-derives the table from the store alone (nothing trained or scored, no images needed), keeping the machine,
    the seconds and the images of the run that computed it. `prepare(module, preset, inputs, table)` runs first
    when the table is measured: `harness.reproduce.on_ray.compute_units` computes its units as Ray tasks."""
    import os
    import time
    from datetime import datetime, timezone

    import pandas as pd

    from harness.provenance import code_version
    from harness.reproduce.inputs import Inputs
    from harness.reproduce.results import machine, write_results

    module = _table_module(table, preset)
    out = Path(out)
    previous = _provenance(out)
    if from_scores and not previous:
        raise HarnessError(f"--from-scores re-derives a table that was measured: {out} holds no provenance.json")
    images = previous.get("images", []) if from_scores else sorted(_image_sets(data_root))
    with_root = previous.get("data_root_given", False) if from_scores else bool(data_root)
    inputs = Inputs(oracle=oracle, runs=Path(runs) if runs else out.parent / "runs",
                    scores=Path(scores) if scores else out.parent / "scores", data_root=data_root,
                    splits_dir=splits_dir, seed=seed, progress=progress, from_scores=from_scores,
                    measured_images=tuple(images), measured_with_root=with_root)
    identity = {"table": table, "preset": preset, "preset_settings": repr(module.PRESETS[preset]), "seed": seed,
                "images": images, "data_root_given": with_root, "code_hash": table_code_hash(table),
                "table_hash": oracle.table_hash}
    if not force and not from_scores and (out / "rows.csv").is_file() and all(
            previous.get(k) == v for k, v in identity.items()):
        return pd.read_csv(out / "rows.csv")
    began = time.perf_counter()
    if prepare is not None and not from_scores:
        prepare(module, preset, inputs, table)
    rows = module.run(preset, out, inputs)
    command = f"harness reproduce {table} --preset {preset}" + (f" --seed {seed}" if seed else "")
    provenance = {**identity, "command": command, "scores": Path(os.path.relpath(inputs.scores, out)).as_posix(),
                  "machine": machine(), "harness_version": code_version(),
                  "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "seconds": time.perf_counter() - began, "ground_truth": oracle.provenance}
    if from_scores:  # the numbers are the earlier run's: so are its machine, versions and cost
        provenance.update({k: previous[k] for k in ("machine", "harness_version", "created_utc", "seconds")
                           if k in previous}, rederived_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return write_results(out, rows, provenance, getattr(module, "EXPLAINED", {}))


def _provenance(out: Path) -> dict:
    import json

    try:
        return json.loads((out / "provenance.json").read_text())
    except (OSError, ValueError):
        return {}


def _image_sets(data_root: str | None) -> list[str]:
    """Which datasets' images `data_root` holds: a table run with other images is another job."""
    from harness.data import missing_images

    datasets = ("cifar10", "cifar100", "ImageNet16-120")
    return [d for d in datasets if data_root and not missing_images(d, data_root)]


def _table_module(table: str, preset: str):
    """The table's module, once `table` and `preset` are known to exist (else a clear error)."""
    if table not in TABLES:
        raise HarnessError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    module = importlib.import_module(f"harness.reproduce.{TABLES[table]}")
    if preset not in module.PRESETS:
        raise HarnessError(f"unknown preset {preset!r} for {table}; presets: {', '.join(module.PRESETS)}")
    return module


def reproduce_all(preset: str, out: str | Path, *, oracle, tables=MAIN_ORDER, force: bool = False, **options):
    """The main job: every table at `preset` into `out/TABLE/`, supernets shared in `out/runs/` and the store in
    `out/scores/`, then the overview (`out/reproduce.md`, the cost-quality chart). Prints a line per table as it
    starts and ends; options as for `reproduce`."""
    import resource
    import time

    from harness.reproduce.overview import write_overview
    from harness.reproduce.results import measured_rows

    for table in tables:  # refuse an unknown table or preset before anything runs
        _table_module(table, preset)
    out = Path(out)
    began = time.perf_counter()
    for i, table in enumerate(tables, 1):
        print(f"[{i}/{len(tables)}] {table} at preset {preset} -> {out / table}", flush=True)
        start = time.perf_counter()
        frame = reproduce(table, preset, out / table, oracle=oracle, runs=out / "runs", scores=out / "scores",
                          force=force, **options)
        measured = int(measured_rows(frame).sum())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB (ru_maxrss is in KiB on Linux)
        print(f"[{i}/{len(tables)}] {table}: {measured} of {len(frame)} rows measured, "
              f"{time.perf_counter() - start:.0f} s (total {time.perf_counter() - began:.0f} s, peak memory "
              f"{peak:.1f} GiB)", flush=True)
    return write_overview(out, preset, tables)
