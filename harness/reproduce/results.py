"""A reproduced table: measured rows beside the published numbers, written with the settings and the machine."""
from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.atomic import atomic_write
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
    scores: tuple[str, ...] = ()  # the files of the store (`Inputs.scores`) the value is computed from
    code_hash: str = ""  # the code that computed those files (";"-joined if several); empty: the table's own code

    @property
    def measured(self) -> bool:
        return not self.reason


def sources(*score_sets) -> dict:
    """`Row` fields naming the store's score files behind a value and the code hashes that computed them."""
    return {"scores": tuple(sorted({Path(s.source).name for s in score_sets})),
            "code_hash": ";".join(sorted({s.provenance["code_hash"] for s in score_sets}))}


def frame(rows: list[Row], code_hash: str = "") -> pd.DataFrame:
    """The rows with the published value, its std and the difference beside each measured one; a row computed by
    the table itself (no score file behind it) gets the table's `code_hash`."""
    records = []
    for row in rows:
        record = {k: v for k, v in asdict(row).items() if k not in ("settings", "scores")}
        record["settings"] = json.dumps(row.settings, sort_keys=True)
        record["scores"] = ";".join(row.scores)
        record["code_hash"] = row.code_hash or (code_hash if row.measured else "")
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


def compared_rows(data: pd.DataFrame) -> list[tuple]:
    """(row, covered, how) for every measured row with a published number: whether the published std and the
    measured spread over seeds or runs cover the difference (|difference| <= 2 sqrt(std_published^2 +
    std_measured^2), the published std alone where no spread was measured, and the published number's rounding; a
    row with a bootstrap interval: the published number inside the interval widened by as much), and how."""
    compared = []
    for r in data[measured_rows(data) & data["published"].notna()].itertuples():
        spread = math.sqrt(sum(v * v for v in (r.published_std, r.std) if not math.isnan(v)))
        tolerance = 2 * spread + _rounding(r.published)
        if not math.isnan(r.ci_low):  # a bootstrap interval over cells or runs: the published value inside it
            covered = r.ci_low - tolerance <= r.published <= r.ci_high + tolerance
            how = f"95% interval [{r.ci_low:.3f}, {r.ci_high:.3f}]"
        else:
            covered = abs(r.difference) <= tolerance
            how = f"spread {spread:.3f}"
        compared.append((r, covered, how))
    return compared


def against_published(data: pd.DataFrame, explained: dict[str, str]) -> list[str]:
    """One line per measured row with a published number (`compared_rows`): the difference, whether the spreads
    cover it, and for a gap they do not cover the table's measured explanation for that row (`explained`: a text,
    or a function of the frame and the row), or that it has none yet."""
    lines = []
    for r, covered, how in compared_rows(data):
        verdict = ("within the spread" if covered else "a gap") + f" ({r.difference:+.3f}; {how})"
        why = explained.get(r.row, "Not explained yet.")
        why = "" if covered else " " + (why(data, r) if callable(why) else why)
        lines.append(f"- {r.row}, {r.dataset}, {r.metric}: {verdict}.{why}")
    return lines


def _rounding(published: float) -> float:
    """Half a unit of the published number's last digit (94.37 may be any of 94.365..94.375)."""
    decimals = len(f"{published:.6f}".rstrip("0").partition(".")[2])
    return 0.5 * 10.0 ** -decimals


def write_results(out: str | Path, rows: list[Row], provenance: dict,
                  explained: dict[str, str] | None = None) -> pd.DataFrame:
    """`rows.csv` (tidy), `table.md` (measured beside published, and each gap with the table's explanation from
    `explained`), `figure.png` and `provenance.json` into `out`.
    `provenance` names the table, preset, command, machine, versions and code hash; the files depend on nothing
    else, so re-deriving a table from its score files with the same provenance writes the same table.md."""
    out = Path(out)
    data = frame(rows, provenance["code_hash"])
    shown = data.assign(
        measured=[_interval(r) for r in data.itertuples()],
        published=[_published(r) for r in data.itertuples()],
        difference=[f"{d:+.3f}" if not math.isnan(d) else "" for d in data["difference"]],
        seconds=[f"{s:.1f}" if not math.isnan(s) else "" for s in data["seconds"]],
    )[["row", "dataset", "metric", "measured", "published", "difference", "n", "seconds"]]
    lines = [f"# {provenance['table']} (preset {provenance['preset']})", "", markdown_table(shown), "",
             "![measured (points with interval or std) beside published (hollow)](figure.png)", ""]
    compared = against_published(data, explained or {})
    if compared:
        lines += ["## Against the published numbers", "", *compared, ""]
    published_in = sorted({s for s in data["source"] if s})
    where = provenance["machine"]
    gpu = f", {where['gpu']}" if "gpu" in where else ""
    lines += [f"Published: {'; '.join(published_in)}." if published_in else "No published numbers for this table.", "",
              f"Measured by `{provenance['command']}` on {where['platform']}, {where['cpus']} CPUs, torch "
              f"{where['torch']} with {where['torch_threads']} thread(s){gpu}; harness {provenance['harness_version']}, table code {provenance['code_hash']}. "
              f"Every row's settings, score files (in `{provenance['scores']}/`) and their code hashes: `rows.csv`.", ""]
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
