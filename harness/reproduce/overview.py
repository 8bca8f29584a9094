"""The main job's overview: what each table measured and cost, and the cost-quality chart across all of them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.atomic import atomic_write
from harness.report.evaluation_report import markdown_table
from harness.report.figures import save
from harness.report.reproduce_figures import QUALITY_METRIC, cost_quality_figure, cost_quality_points, numbered
from harness.reproduce.results import compared_rows, measured_rows


def _compared(compared: list[tuple]) -> str:
    """How a table's published numbers came out: how many the spreads cover, how many are gaps (each explained or
    not on the table's page), and the median absolute difference."""
    if not compared:
        return "none"
    gaps = sum(not covered for _, covered, _ in compared)
    median = float(np.median([abs(r.difference) for r, _, _ in compared]))
    return (f"{len(compared)} published: {len(compared) - gaps} within the spread, {gaps} "
            f"gap{'' if gaps == 1 else 's'}; median absolute difference {median:.3f}")


def write_overview(out: str | Path, preset: str, tables) -> pd.DataFrame:
    """`out/reproduce.md` (one line per table, the chart, the points by quality), `out/cost-quality.csv` and
    `out/cost-quality.png|svg`, from the tables under `out`; returns the chart's points."""
    out = Path(out)
    frames, lines, machine = [], [], None
    for table in tables:
        if not (out / table / "rows.csv").is_file():
            lines.append({"table": table, "measured": 0, "not run": 0, "seconds": "", "compared": "not measured yet",
                          "command": "", "code": ""})
            continue
        frame = pd.read_csv(out / table / "rows.csv")
        provenance = json.loads((out / table / "provenance.json").read_text())
        machine = machine or provenance["machine"]
        frames.append(frame)
        ran = measured_rows(frame)
        lines.append({"table": f"[{table}]({table}/table.md)", "measured": int(ran.sum()),
                      "not run": int((~ran).sum()), "seconds": f"{provenance.get('seconds', float('nan')):.0f}",
                      "compared": _compared(compared_rows(frame)),
                      "command": f"`{provenance['command']}`", "code": provenance["code_hash"]})
    points = cost_quality_points(frames)
    save(cost_quality_figure(points), out, "cost-quality")
    atomic_write(out / "cost-quality.csv", lambda tmp: points.to_csv(tmp, index=False))
    ranked = numbered(points)  # numbered as the chart's points are
    ranked = ranked.assign(**{"#": ranked["number"], QUALITY_METRIC: ranked[QUALITY_METRIC].map("{:.3f}".format),
                              "seconds": ranked["seconds"].map("{:.1f}".format)})
    text = [f"# Reproduced tables (preset {preset})", "",
            f"Written by `harness reproduce all --preset {preset}` (the main job); each table's own page has its rows "
            "beside the published numbers, intervals, settings, score files and their code hashes (`rows.csv`) and "
            "figure; `code` is the table's code hash. The score files and histories behind every row are in "
            "`scores/`: `harness reproduce all --from-scores` re-derives every table from them without training.", "",
            markdown_table(pd.DataFrame(lines)), ""]
    if machine:
        gpu = f", {machine['gpu']}" if "gpu" in machine else ""
        text += [f"Machine: {machine['platform']}, {machine['cpus']} CPUs, torch {machine['torch']}{gpu}.", ""]
    text += ["## Cost against quality", "",
             "Kendall tau against the seconds each measurement took (supernet training included; a row's cells in "
             "brackets). Each point carries its number in the table below (and in the key beside its panel). Points "
             "over fewer cells have wider intervals: see each table.", "",
             "![Kendall tau against seconds](cost-quality.png)", "",
             markdown_table(ranked[["dataset", "#", "table", "row", "kendall_tau", "n", "seconds"]]), ""]
    atomic_write(out / "reproduce.md", lambda tmp: Path(tmp).write_text("\n".join(text)))
    return points
