"""The evaluation report: metrics.csv (tidy), report.md and report.html, figures in PNG and SVG.

One report holds one target, or several (`--dataset all`: a section per dataset, one metrics.csv with a dataset
column). It is written into a temporary directory and moved into place only when complete (`staging`)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.evaluate import Evaluation
from harness.analysis.operators import operator_agreement
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.provenance import code_version
from harness.report import comparison as zoo_comparison
from harness.report import figures, html_page
from harness.report.staging import staged_directory

#: the headline metrics: (label in metrics.csv, column header, what it means)
HEADLINE = [
    ("kendall_tau", "Kendall τ", "Kendall tau-b between the scores and the ground truth over the scored cells"),
    ("spearman_rho", "Spearman ρ", "Spearman's rank correlation"),
    ("pearson_r", "Pearson r", "Pearson's correlation of the values themselves (undefined with infinite scores)"),
    ("top_kendall_tau@20%", "τ in top 20%", "Kendall tau among the cells in the ground-truth top 20% (EPS)"),
    ("retrieval_rate@1%", "RR@1%", "retrieval rate: share of the ground-truth top 1% in the proxy's top 1% (EcoNAS)"),
    ("retrieval_rate@5%", "RR@5%", "the same for the top 5%"),
    ("retrieval_rate@10%", "RR@10%", "the same for the top 10%"),
    ("precision_at_k@10", "P@10", "share of the proxy's top 10 cells that are in the ground-truth top 10"),
    ("best_rank_at_k@10", "BR@10", "best ground-truth rank (1 = best) among the proxy's top 10 (Ning et al. 2021)"),
    ("worst_rank_at_k@10", "WR@10", "worst ground-truth rank among the proxy's top 10"),
    ("best_accuracy_at_k@1", "top-1 acc.", "ground truth (accuracy, %) of the proxy's top-1 pick: what a search "
                                           "that trusts the proxy ends with"),
    ("best_accuracy_at_k@10", "best top-10 acc.", "best ground truth (accuracy, %) among the proxy's top 10 picks"),
]
COLUMN_MEANINGS = [
    ("score set", "the score file's proxy; (baseline): a no-training baseline, on the same cells"),
    ("cells", "cells evaluated (NaN scores and cells without ground truth are left out: see the notes)"),
    *[(header, f"{meaning} (`{label}` in `metrics.csv`)") for label, header, meaning in HEADLINE],
    ("op. agreement", "mean over the 6 edges of Kendall tau between the proxy's and the ground truth's operator "
                      "scores (the operator figure)"),
    ("cost", "seconds of compute per cell, from the score file's provenance (`seconds_per_cell`); not recorded: "
             "the file does not say"),
]
#: what a report directory holds, all replaced together (anything else there stays)
REPORT_ENTRIES = ("comparison.csv", "figures", "metrics.csv", "provenance.json", "report.html", "report.md")
FIGURES = [
    ("scores_vs_truth", "Scores against the ground truth",
     "One panel per score set: its scores (x) against the ground truth {target} (y); hexagons (cells per hexagon, "
     "log colour scale) above 2,000 cells, points below. The title gives Kendall tau and the cells."),
    ("top_k_curves", "Top-k retrieval and top-k% Kendall tau",
     "Left: the retrieval rate at top k%, the share of the ground-truth top k% that is in the proxy's top k%. "
     "Right: Kendall tau among the cells of the ground-truth top k%. k on a log axis; shaded: the 95% bootstrap "
     "band over cells; dashed: the no-training baselines."),
    ("operator_scores", "Operator scores (6 edges x 5 ops)",
     "For every edge (rows) and op (columns), the mean over the evaluated cells holding that op on that edge: of "
     "the ground truth {target} (first panel) or of each proxy's score. Colour: the op's rank on its edge, 1 = best, "
     "one scale shared by all panels (colour bar); numbers: the mean itself, on each panel's own scale."),
]


def _cell(row: pd.Series) -> str:
    value = row["value"]
    if not np.isfinite(value):
        return "undefined"
    digits = 0 if row["metric"].endswith("rank_at_k") else 2 if row["metric"] == "best_accuracy_at_k" else 3
    text = f"{value:.{digits}f}"
    if np.isfinite(row["ci_low"]):
        text += f" [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]"
    return text


def _cost(provenance: dict) -> str:
    seconds = provenance.get("seconds_per_cell")
    return f"{seconds * 1e3:.3g} ms/cell" if isinstance(seconds, (int, float)) and np.isfinite(seconds) else \
        "not recorded"


def headline_table(evaluation: Evaluation) -> pd.DataFrame:
    """One row per score set, the headline metrics as 'value [ci_low, ci_high]', the operator agreement and the
    recorded cost; the columns are explained by `COLUMN_MEANINGS`."""
    rows = []
    for r in evaluation.results:
        by_label = r.metrics.set_index("label")
        row = {"score set": r.score_set.name + (" (baseline)" if r.baseline else ""), "cells": int(by_label["n_cells"].iloc[0])}
        row.update({header: _cell(by_label.loc[label]) for label, header, _ in HEADLINE if label in by_label.index})
        row["op. agreement"] = f"{operator_agreement(r.operators):.3f}"
        row["cost"] = _cost(r.score_set.provenance)
        rows.append(row)
    return pd.DataFrame(rows)


def picks_table(evaluation: Evaluation) -> pd.DataFrame:
    """Each score set's top-1 pick: the cell it scores highest, its ground truth and its rank in the table."""
    return pd.DataFrame([{"score set": r.score_set.name, "top-1 pick": r.pick["arch"],
                          "ground truth": f"{r.pick['truth']:.2f}",
                          "rank in the table": f"{r.pick['global_rank']} of {r.pick['of']}"}
                         for r in evaluation.results if r.pick],
                        columns=["score set", "top-1 pick", "ground truth", "rank in the table"])


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table of the frame's values as they print."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _notes(evaluation: Evaluation) -> list[str]:
    notes = [f"Evaluated with --allow-mismatch although {m}."
             for m in evaluation.settings.get("allowed_mismatches", [])]
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


def write_report(evaluation: Evaluation | Sequence[Evaluation], out_dir: str | Path, title: str | None = None,
                 origin: dict | None = None, comparisons: Sequence[pd.DataFrame | None] | None = None,
                 zoo_notes: Sequence[str] = ()) -> dict[str, Path]:
    """Write the report of one evaluation, or of several (a section per target), into `out_dir`, staged so that a
    failure leaves no partial report and an earlier one as it was. Returns the paths written, keyed by name
    ('metrics', 'markdown', 'html', 'provenance', and per figure 'STEM.png', or 'DATASET/STEM.png' for several).
    `origin` ({"command", "code_hash"}) names what wrote it. `comparisons` (one per evaluation, rows of
    `harness.analysis.paired.COLUMNS`) add the leaderboard and forest plot against the zoo and comparison.csv;
    `zoo_notes` say what was not compared and why."""
    evaluations = [evaluation] if isinstance(evaluation, Evaluation) else list(evaluation)
    if not evaluations:
        raise HarnessError("nothing to report: no evaluation given")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out} is a file; a report is a directory: give a new one or an earlier report's")
    clash = [name for name in REPORT_ENTRIES if (out / name).exists()]
    if clash and not (out / "report.md").is_file():
        raise HarnessError(f"--out {out} holds {', '.join(clash)} but no report.md: not an earlier report, which "
                           f"the new one would replace; give another directory")
    several = len(evaluations) > 1
    comparisons = list(comparisons) if comparisons is not None else [None] * len(evaluations)
    with staged_directory(out, owned=REPORT_ENTRIES) as staging:
        written = _write(evaluations, staging, several, title, origin, comparisons, list(zoo_notes))
    return {key: out / path.relative_to(staging) for key, path in written.items()}


def _write(evaluations: list[Evaluation], out: Path, several: bool, title: str | None,
           origin: dict | None, comparisons: list, zoo_notes: list[str]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    table = pd.concat([e.metrics_table() for e in evaluations], ignore_index=True)
    written["metrics"] = atomic_write(out / "metrics.csv", lambda tmp: table.to_csv(tmp, index=False))
    paired = [c.assign(dataset=e.dataset, target=e.target) for e, c in zip(evaluations, comparisons)
              if c is not None and len(c)]
    if paired:
        frame = pd.concat(paired, ignore_index=True)
        written["comparison"] = atomic_write(out / "comparison.csv", lambda tmp: frame.to_csv(tmp, index=False))
    for e, comparison in zip(evaluations, comparisons):
        prefix = f"{e.dataset}/" if several else ""
        figs = {"scores_vs_truth": figures.scores_vs_truth(e), "top_k_curves": figures.top_k_curves(e),
                "operator_scores": figures.operator_heatmaps(e)}
        figs.update({f"zoo-{name}": zoo_comparison.forest_plot(comparison, name) for name in _compared(comparison)})
        for stem, fig in figs.items():
            png, svg = figures.save(fig, out / "figures" / prefix, stem)
            written[f"{prefix}{stem}.png"], written[f"{prefix}{stem}.svg"] = png, svg
    first = evaluations[0]
    settings = {**first.settings, "allowed_mismatches": [m for e in evaluations
                                                         for m in e.settings.get("allowed_mismatches", [])]}
    provenance = {
        **(origin or {}),
        "target": [e.target for e in evaluations] if several else first.target, "settings": settings,
        "ground_truth": first.oracle_provenance, "harness_version": code_version(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "score_sets": {r.score_set.name: r.score_set.provenance for e in evaluations for r in e.results},
    }
    written["provenance"] = atomic_write(out / "provenance.json",
                                         lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2, default=str)))
    datasets = ", ".join(e.dataset for e in evaluations)
    title = title or (f"Ranking evaluation on {datasets}" if several else f"Ranking evaluation against {first.target}")
    gt = first.oracle_provenance
    targets = ", ".join(f"`{e.target}`" for e in evaluations)
    intro = (f"Ground truth: {targets} from {gt.get('benchmark_version')} "
             f"(source `{gt.get('source', {}).get('name')}`, sha256 `{gt.get('source', {}).get('sha256', '')[:16]}...`). "
             f"Intervals: {100 * (1 - settings['alpha']):g}% bootstrap over cells, seed {settings['seed']}, "
             f"{settings['n_boot']} resamples"
             f"{'; cells collapsed to isomorphism classes first' if settings['iso_classes'] else ''}. "
             f"harness {provenance['harness_version']}, {provenance['created_utc']}.")
    wrote = f"Written by `{origin['command']}` (code `{origin['code_hash']}`)." if origin else ""
    closing = "All metrics with intervals: `metrics.csv`; provenance of every score set: `provenance.json`."
    md = [f"# {title}", "", intro, ""] + ([wrote, ""] if wrote else []) + [f"*{n}*" for n in zoo_notes] + (
        [""] if zoo_notes else [])
    body = [f"<h1>{html_page.inline(title)}</h1>", f"<p>{html_page.inline(intro)}</p>"]
    if origin:
        body += [f"<p>Written by (code <code>{origin['code_hash']}</code>):</p>", html_page.pre(origin["command"])]
    body += [f"<p><em>{html_page.inline(n)}</em></p>" for n in zoo_notes]
    for e, comparison in zip(evaluations, comparisons):
        section_md, section_html = _section(e, several, comparison)
        md += section_md
        body += section_html
    md += [closing, ""]
    body.append(f"<p>{html_page.inline(closing)}</p>")
    written["markdown"] = atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text("\n".join(md)))
    page = html_page.page(title, body)
    written["html"] = atomic_write(out / "report.html", lambda tmp: Path(tmp).write_text(page))
    return written


def _compared(comparison: pd.DataFrame | None) -> list[str]:
    return list(dict.fromkeys(comparison["proxy"])) if comparison is not None and len(comparison) else []


def _section(evaluation: Evaluation, several: bool, comparison: pd.DataFrame | None = None
             ) -> tuple[list[str], list[str]]:
    """The markdown and HTML of one target: the headline table and its legend, the picks, notes, figures."""
    level, tag = ("###", "h3") if several else ("##", "h2")
    prefix = f"{evaluation.dataset}/" if several else ""
    headline, picks, notes = headline_table(evaluation), picks_table(evaluation), _notes(evaluation)
    md, body = [], []
    if several:
        heading = f"{evaluation.dataset} (`{evaluation.target}`)"
        md += [f"## {heading}", ""]
        body += [f'<section id="{evaluation.dataset}">', f"<h2>{html_page.inline(heading)}</h2>"]
    md += [markdown_table(headline), "", "Columns:", ""] + [f"- {name}: {meaning}" for name, meaning in
                                                            COLUMN_MEANINGS] + [""]
    body += [html_page.table(headline), html_page.legend(COLUMN_MEANINGS)]
    if len(picks):
        quoted = "`" + picks["top-1 pick"].str.replace("|", "\\|") + "`"  # a bare | would end the table cell
        md += [f"{level} Top-1 picks", "", markdown_table(picks.assign(**{"top-1 pick": quoted})), ""]
        body += [f"<{tag}>Top-1 picks</{tag}>", html_page.table(picks, code_columns=("top-1 pick",))]
    if notes:
        md += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
        body.append("<ul>" + "".join(f"<li>{html_page.inline(n)}</li>" for n in notes) + "</ul>")
    for name in _compared(comparison):
        result = next(r for r in evaluation.results if r.score_set.name == name)
        by_label = result.metrics.set_index("label")["value"]
        board = zoo_comparison.leaderboard(comparison, name, by_label.to_dict(), int(result.metrics["n_cells"].iloc[0]))
        heading = f"{name} against the zoo"
        caption = (f"{name} minus each zoo proxy on the cells both scored, with 95% paired bootstrap intervals; filled: "
                   f"Holm-adjusted p below 0.05. Every metric's rows: `comparison.csv`.")
        md += [f"{level} {heading}", "", markdown_table(board.assign(proxy=board["proxy"].map(
            lambda p: f"**{p}**" if p.endswith("(yours)") else p))), "", "Columns:", ""]
        md += [f"- {c}: {meaning}" for c, meaning in zoo_comparison.LEADERBOARD_MEANINGS] + [""]
        md += [f"![{heading}](figures/{prefix}zoo-{name}.png)", "", f"*{caption}*", ""]
        body += [f"<{tag}>{html_page.inline(heading)}</{tag}>", html_page.table(board),
                 html_page.legend(zoo_comparison.LEADERBOARD_MEANINGS),
                 html_page.figure(f"figures/{prefix}zoo-{name}.svg", heading, caption)]
    for stem, heading, caption in FIGURES:
        caption = caption.format(target=f"`{evaluation.target}`")
        md += [f"{level} {heading}", "", f"![{heading}](figures/{prefix}{stem}.png)", "", f"*{caption}*", ""]
        body += [f"<{tag}>{heading}</{tag}>", html_page.figure(f"figures/{prefix}{stem}.svg", heading, caption)]
    if several:
        body.append("</section>")
    return md, body
