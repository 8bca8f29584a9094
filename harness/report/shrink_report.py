"""The report of a shrinking run (ABS stages, or the generations of EPS and AutoSpace): the resulting space and
what searching inside it gains."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
             f"harness {provenance['harness_version']}; written by `{provenance['command']}` (code "
             f"{provenance['code_hash']}).", "",
             markdown_table(stages.round(3)), "",
             "Final space (allowed ops per edge): " + "; ".join(
                 f"{edge}: {', '.join(ops)}" for edge, ops in zip(provenance["edges"], final["allowed"])), ""]
    atomic_write(out / "stages.csv", lambda tmp: stages.to_csv(tmp, index=False))
    _write_common(out, lines, search_gain, space, provenance)


def generation_table(history: list[dict]) -> pd.DataFrame:
    """One row per generation of a population method: the population's ground truth, the supernet's Kendall tau
    over it, and the member it would pick."""
    return pd.DataFrame([{"generation": r["generation"], "mean truth": r["mean_truth"], "best truth": r["best_truth"],
                          "Kendall tau": r["kendall_tau"], "pick": r["pick"]["arch"], "pick truth": r["pick"]["truth"],
                          "pick rank": r["pick"]["global_rank"], "seconds": r["seconds"]} for r in history])


def _code(arch: str) -> str:
    """An arch string as inline code that a markdown table cell can hold (its pipes escaped)."""
    return "`" + arch.replace("|", "\\|") + "`"


#: generations report.md lists at most (evenly spaced, the last always); generations.csv holds them all
REPORT_GENERATIONS = 25


def write_population_report(out: str | Path, title: str, history: list[dict], space: list[str], note: str,
                            search_gain: pd.DataFrame, provenance: dict, top20: dict | None = None,
                            picks: dict[str, dict] | None = None) -> None:
    """report.md, generations.csv, search_gain.csv, space.json (the final space's cells), provenance.json and, for
    EPS's observation, top20.json. `note` says what the Kendall tau of the table ranks; `picks` names the final
    picks (default: the last generation's)."""
    out = Path(out)
    generations = generation_table(history)
    final = history[-1]
    quality = final["quality"]
    shown = generations.iloc[np.unique(np.linspace(0, len(generations) - 1, REPORT_GENERATIONS).round().astype(int))]
    lines = [f"# {title}", "", f"Ground truth: `{provenance['truth']}`; harness {provenance['harness_version']}; "
             f"written by `{provenance['command']}` (code {provenance['code_hash']}). {note}", "",
             markdown_table(shown.round(3).assign(pick=shown["pick"].map(_code))), ""]
    if len(shown) < len(generations):
        lines += [f"{len(shown)} of the {len(generations)} generations; generations.csv holds them all.", ""]
    for label, pick in (picks or {"": final["pick"]}).items():
        lines += [f"Final pick{' ' + label if label else ''}: `{pick['arch']}`, ground truth {pick['truth']:.2f} "
                  f"(global rank {pick['global_rank']}).", ""]
    lines += ["Final space (space.json):", "",
              markdown_table(pd.DataFrame([{label: quality[key] for key, label in _QUALITY}]).round(3)), ""]
    if top20 is not None:
        lines += ["## The supernet on the whole space and on its top 20%", "",
                  f"Kendall tau of the final supernet's scores over {top20['cells']} cells drawn from the whole "
                  f"space (seed {top20['seed']}): {top20['kendall_tau']:.3f}; inside their ground-truth top 20% "
                  f"({top20['top20_cells']} cells): {top20['top20_kendall_tau']:.3f}.", ""]
        atomic_write(out / "top20.json", lambda tmp: Path(tmp).write_text(json.dumps(top20, indent=1) + "\n"))
    atomic_write(out / "generations.csv", lambda tmp: generations.to_csv(tmp, index=False))
    _write_common(out, lines, search_gain, {"archs": space, "size": len(space)}, provenance)


def _write_common(out: Path, lines: list[str], search_gain: pd.DataFrame, space: dict, provenance: dict) -> None:
    """The search-gain section and report.md, search_gain.csv, space.json and provenance.json."""
    if len(search_gain):
        lines = lines + ["## Searching inside the resulting space against the whole space", "",
                         "Best test accuracy of the pick (selected by validation accuracy), mean over seeded runs.",
                         "", markdown_table(search_gain.round(2)), ""]
    atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text("\n".join(lines)))
    atomic_write(out / "search_gain.csv", lambda tmp: search_gain.to_csv(tmp, index=False))
    atomic_write(out / "space.json", lambda tmp: Path(tmp).write_text(json.dumps(space, indent=1) + "\n"))
    atomic_write(out / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2) + "\n"))
