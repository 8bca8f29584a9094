"""A reproduced table: measured rows beside the published numbers, written with the settings and the machine."""
from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from harness.atomic import atomic_write
from harness.provenance import code_version
from harness.report.evaluation_report import markdown_table
from harness.report.figures import save
from harness.report.reproduce_figures import table_figure
from harness.reproduce.published import published


@dataclass(frozen=True)
class Row:
    """One measured number (or one that could not be measured, with the reason)."""

    table: str
    row: str
    dataset: str
    metric: str
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    std: float = math.nan  # over seeds, when the value is a mean over several runs
    n: int = 0  # cells (correlations) or runs (searches) the value is over
    seconds: float = math.nan  # compute the measurement took
    settings: dict = field(default_factory=dict)
    reason: str = ""  # why it was not run

    @property
    def measured(self) -> bool:
        return not self.reason


def frame(rows: list[Row]) -> pd.DataFrame:
    """The rows with the published value, its std and the difference beside each measured one."""
    records = []
    for row in rows:
        record = {k: v for k, v in asdict(row).items() if k != "settings"}
        record["settings"] = json.dumps(row.settings, sort_keys=True)
        ref = published(row.table, row.row, row.dataset, row.metric)
        record["published"] = ref.value if ref else math.nan
        record["published_std"] = ref.std if ref and ref.std is not None else math.nan
        record["difference"] = row.value - ref.value if ref and row.measured else math.nan
        record["source"] = ref.source if ref else ""
        records.append(record)
    return pd.DataFrame(records)


def over_seeds(values) -> dict:
    """A value measured once per seed as `Row` fields: the mean, and the std over seeds when there are several."""
    return {"value": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan}


def measured_rows(data: pd.DataFrame) -> pd.Series:
    """Which rows of a table's frame (or its rows.csv, where an empty reason reads as NaN) were measured."""
    return data["reason"].astype("string").fillna("") == ""


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_results(out: str | Path, table: str, preset: str, rows: list[Row], extra: dict) -> pd.DataFrame:
    """`rows.csv` (tidy), `table.md` (measured beside published) and `provenance.json` into `out`."""
    out = Path(out)
    data = frame(rows)
    shown = data.assign(
        measured=[_interval(r) for r in data.itertuples()],
        published=[_published(r) for r in data.itertuples()],
        difference=[f"{d:+.3f}" if not math.isnan(d) else "" for d in data["difference"]],
        seconds=[f"{s:.1f}" if not math.isnan(s) else "" for s in data["seconds"]],
    )[["row", "dataset", "metric", "measured", "published", "difference", "n", "seconds"]]
    provenance = {"table": table, "preset": preset, "machine": machine(), "harness_version": code_version(),
                  "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}
    lines = [f"# {table} (preset {preset})", "", markdown_table(shown), "",
             "![measured (points with interval or std) beside published (hollow)](figure.png)", ""]
    sources = sorted({s for s in data["source"] if s})
    where = provenance["machine"]
    gpu = f", {where['gpu']}" if "gpu" in where else ""
    lines += [f"Published: {'; '.join(sources)}." if sources else "No published numbers for this table.", "",
              f"Machine: {where['platform']}, {where['cpus']} CPUs, torch {where['torch']}{gpu}; harness "
              f"{provenance['harness_version']}. Settings of every row: `rows.csv`.", ""]
    out.mkdir(parents=True, exist_ok=True)
    save(table_figure(data), out, "figure")
    atomic_write(out / "rows.csv", lambda tmp: data.to_csv(tmp, index=False))
    atomic_write(out / "table.md", lambda tmp: Path(tmp).write_text("\n".join(lines)))
    atomic_write(out / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2) + "\n"))
    return data


def _interval(r) -> str:
    if r.reason:
        return f"not run: {r.reason.split('. ')[0]}"  # the first sentence; rows.csv has all of it
    text = f"{r.value:.3f}" + (f" +- {r.std:.3f}" if not math.isnan(r.std) else "")
    return text + (f" [{r.ci_low:.3f}, {r.ci_high:.3f}]" if not math.isnan(r.ci_low) else "")


def _published(r) -> str:
    if math.isnan(r.published):
        return ""
    return f"{r.published:.3f}" + (f" +- {r.published_std:.3f}" if not math.isnan(r.published_std) else "")
