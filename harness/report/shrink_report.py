"""The report of a shrinking run: the stages, the resulting space and what searching inside it gains."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.atomic import atomic_write
from harness.report.evaluation_report import markdown_table

_QUALITY = (("size", "cells"), ("best", "best accuracy"), ("best_global_rank", "its global rank"),
            ("top1%_kept", "top 1% kept"), ("top5%_kept", "top 5% kept"), ("mean", "mean accuracy"))


def stage_table(history: list[dict]) -> pd.DataFrame:
    """One row per stage: what it dropped and the quality of the space it left."""
    rows = []
    for record in history:
        row = {"stage": record["stage"], "dropped": ", ".join(f"{op} on {edge}" for edge, op in record["dropped"])}
        row.update({label: record["quality"][key] for key, label in _QUALITY})
        row["seconds"] = record["seconds"]
        rows.append(row)
    return pd.DataFrame(rows)


def write_shrink_report(out: str | Path, title: str, history: list[dict], search_gain: pd.DataFrame,
                        provenance: dict) -> None:
    """report.md, stages.csv, search_gain.csv, space.json (the final allowed ops) and provenance.json."""
    out = Path(out)
    stages = stage_table(history)
    final = history[-1]
    space = {"allowed": final["allowed"], "size": final["size"]}
    lines = [f"# {title}", "", f"Ground truth: `{provenance['truth']}`; signal `{provenance['settings']['signal']}`; "
             f"harness {provenance['harness_version']}.", "",
             markdown_table(stages.round(3)), "",
             "Final space (allowed ops per edge): " + "; ".join(
                 f"{edge}: {', '.join(ops)}" for edge, ops in zip(provenance["edges"], final["allowed"])), ""]
    if len(search_gain):
        lines += ["## Searching inside the shrunk space against the whole space", "",
                  "Best test accuracy of the pick (selected by validation accuracy), mean over seeded runs.", "",
                  markdown_table(search_gain.round(2)), ""]
    atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text("\n".join(lines)))
    atomic_write(out / "stages.csv", lambda tmp: stages.to_csv(tmp, index=False))
    atomic_write(out / "search_gain.csv", lambda tmp: search_gain.to_csv(tmp, index=False))
    atomic_write(out / "space.json", lambda tmp: Path(tmp).write_text(json.dumps(space, indent=1) + "\n"))
    atomic_write(out / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2) + "\n"))
