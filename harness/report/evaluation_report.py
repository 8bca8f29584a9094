"""The evaluation report: metrics.csv (tidy), report.md and report.html, figures in PNG and SVG."""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.evaluate import Evaluation
from harness.analysis.operators import operator_agreement
from harness.atomic import atomic_write
from harness.provenance import code_version
from harness.report import figures

HEADLINE = ["kendall_tau", "spearman_rho", "pearson_r", "top_kendall_tau@20%", "retrieval_rate@1%",
            "retrieval_rate@5%", "retrieval_rate@10%", "precision_at_k@10", "best_rank_at_k@10", "worst_rank_at_k@10"]


def _cell(row: pd.Series) -> str:
    value = row["value"]
    if not np.isfinite(value):
        return "undefined"
    text = f"{value:.0f}" if row["metric"].endswith("rank_at_k") else f"{value:.3f}"
    if np.isfinite(row["ci_low"]):
        text += f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    return text


def headline_table(evaluation: Evaluation) -> pd.DataFrame:
    """One row per score set, the headline metrics as 'value [ci_low, ci_high]'."""
    rows = []
    for r in evaluation.results:
        by_label = r.metrics.set_index("label")
        row = {"score set": r.score_set.name + (" (baseline)" if r.baseline else ""), "cells": int(by_label["n_cells"].iloc[0])}
        row.update({label: _cell(by_label.loc[label]) for label in HEADLINE if label in by_label.index})
        row["operator agreement"] = f"{operator_agreement(r.operators):.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table of the frame's values as they print."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _notes(evaluation: Evaluation) -> list[str]:
    notes = []
    for r in evaluation.results:
        first = r.metrics.iloc[0]
        excluded = int(first["n_nan"] + first["n_no_truth"])
        if excluded:
            notes.append(f"{r.score_set.name}: {excluded} cell(s) excluded ({int(first['n_nan'])} NaN scores, "
                         f"{int(first['n_no_truth'])} without ground truth).")
        if first["n_inf"]:
            notes.append(f"{r.score_set.name}: {int(first['n_inf'])} infinite score(s) kept, ranked as ties below "
                         f"(-inf) or above (+inf) every finite score.")
        for row in r.metrics[r.metrics["reason"] != ""].drop_duplicates("reason").itertuples():
            notes.append(f"{r.score_set.name}: {row.label} and others undefined: {row.reason}.")
    return notes


def write_report(evaluation: Evaluation, out_dir: str | Path, title: str | None = None,
                 origin: dict | None = None) -> dict[str, Path]:
    """Write the report into `out_dir`; every file goes through a temporary name. Returns the paths written.
    `origin` ({"command", "code_hash"}) names what wrote it."""
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table = evaluation.metrics_table()
    written["metrics"] = atomic_write(out / "metrics.csv", lambda tmp: table.to_csv(tmp, index=False))
    figs = {"scores_vs_truth": figures.scores_vs_truth(evaluation), "top_k_curves": figures.top_k_curves(evaluation),
            "operator_scores": figures.operator_heatmaps(evaluation)}
    for stem, fig in figs.items():
        png, svg = figures.save(fig, fig_dir, stem)
        written[f"{stem}.png"], written[f"{stem}.svg"] = png, svg
    headline = headline_table(evaluation)
    provenance = {
        **(origin or {}),
        "target": evaluation.target, "settings": evaluation.settings, "ground_truth": evaluation.oracle_provenance,
        "harness_version": code_version(), "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "score_sets": {r.score_set.name: r.score_set.provenance for r in evaluation.results},
    }
    written["provenance"] = atomic_write(out / "provenance.json",
                                         lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2, default=str)))
    title = title or f"Ranking evaluation against {evaluation.target}"
    gt = evaluation.oracle_provenance
    settings = evaluation.settings
    intro = (f"Ground truth: `{evaluation.target}` from {gt.get('benchmark_version')} "
             f"(source `{gt.get('source', {}).get('name')}`, sha256 `{gt.get('source', {}).get('sha256', '')[:16]}...`). "
             f"Intervals: {100 * (1 - settings['alpha']):g}% bootstrap over cells, seed {settings['seed']}, "
             f"{settings['n_boot']} resamples"
             f"{'; cells collapsed to isomorphism classes first' if settings['iso_classes'] else ''}. "
             f"harness {provenance['harness_version']}, {provenance['created_utc']}."
             + (f" Written by `{origin['command']}` (code {origin['code_hash']})." if origin else ""))
    notes = [f"Evaluated with --allow-mismatch although {m}." for m in settings.get("allowed_mismatches", [])]
    notes += _notes(evaluation)
    md = [f"# {title}", "", intro, "", markdown_table(headline), ""]
    if notes:
        md += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    md += ["## Scores against the ground truth", "", "![scores vs truth](figures/scores_vs_truth.png)", "",
           "## Top-k retrieval and top-k% Kendall tau", "", "![top-k curves](figures/top_k_curves.png)", "",
           "## Operator scores (6 edges x 5 ops)", "", "![operator scores](figures/operator_scores.png)", "",
           "All metrics with intervals: `metrics.csv`; provenance of every score set: `provenance.json`.", ""]
    written["markdown"] = atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text("\n".join(md)))
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>", headline.to_html(index=False)]
    if notes:
        body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for stem, heading in (("scores_vs_truth", "Scores against the ground truth"),
                          ("top_k_curves", "Top-k retrieval and top-k% Kendall tau"),
                          ("operator_scores", "Operator scores (6 edges x 5 ops)")):
        body += [f"<h2>{heading}</h2>", f'<img src="figures/{stem}.svg" alt="{stem}" style="max-width:100%">']
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
            "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>" + "\n".join(body)
            + "</body></html>")
    written["html"] = atomic_write(out / "report.html", lambda tmp: Path(tmp).write_text(page))
    return written
