"""The report's figures, each saved as PNG and SVG through temporary files."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from harness.analysis.evaluate import CURVE_PERCENTS, Evaluation  # noqa: E402
from harness.atomic import atomic_write  # noqa: E402
from harness.space import EDGE_NAMES, OPS  # noqa: E402

HEXBIN_ABOVE = 2000  # cells; fewer are drawn as points


def save(fig, directory: Path, stem: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        path = directory / f"{stem}.{ext}"
        atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=110, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def panel_grid(n: int, width: float = 3.4, height: float = 3.0, layout: str | None = None):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout=layout)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def scores_vs_truth(evaluation: Evaluation):
    """Each score set's scores against the ground truth: hexbin when cells are many, points otherwise."""
    fig, axes = panel_grid(len(evaluation.results))
    for ax, r in zip(axes, evaluation.results):
        ok = np.isfinite(r.score_set.scores) & np.isfinite(r.truth)
        x, y = r.score_set.scores[ok], r.truth[ok]
        if len(x) > HEXBIN_ABOVE:
            bins = ax.hexbin(x, y, gridsize=40, bins="log", cmap="viridis", mincnt=1)
            fig.colorbar(bins, ax=ax).set_label("cells per hexagon (log)", fontsize=7)
        else:
            ax.scatter(x, y, s=6, alpha=0.6)
        tau = r.metrics.set_index("label").loc["kendall_tau", "value"]
        ax.set_title(f"{r.score_set.name}\nKendall tau {tau:.3f}, {len(x)} cells", fontsize=9)
        ax.set_xlabel("score", fontsize=8)
        ax.set_ylabel(evaluation.target, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def top_k_curves(evaluation: Evaluation):
    """Retrieval rate and Kendall tau inside the ground-truth top k%, as curves over k with their 95% bootstrap
    bands (`SetResult.curves`); a score set whose rank metrics are undefined has no curve and no legend entry."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, r in enumerate(evaluation.results):
        for ax, metric in ((left, "retrieval_rate"), (right, "top_kendall_tau")):
            curve = r.curves[r.curves["metric"] == metric] if len(r.curves) else r.curves
            if not len(curve):
                continue
            ax.plot(curve["k"], curve["value"], marker="o", ms=3, lw=1.2, ls="--" if r.baseline else "-",
                    color=f"C{i}", label=r.score_set.name)
            ax.fill_between(curve["k"], curve["ci_low"], curve["ci_high"], color=f"C{i}", alpha=0.15, lw=0)
    for ax, title in ((left, "retrieval rate at top k%"), (right, "Kendall tau inside ground-truth top k%")):
        ax.set_xscale("log")
        ax.set_xticks(CURVE_PERCENTS, [f"{k}%" for k in CURVE_PERCENTS])
        ax.set_xlabel("k")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    if left.get_legend_handles_labels()[0]:
        left.legend(fontsize=7)
    fig.tight_layout()
    return fig


#: the colour scale every operator panel shares: an op's rank among the 5 ops of its edge
RANK_COLOURS = plt.get_cmap("viridis_r", len(OPS))


def operator_heatmaps(evaluation: Evaluation):
    """6 edges x 5 ops: the ground truth's operator scores, then each score set's. Scores of different proxies
    share no scale, so the colour is each op's rank on its edge (1 = best), one scale for every panel with one
    colour bar; the number in a square is the mean itself, on the panel's own scale (its title says which)."""
    panels = [(f"ground truth\nnumbers: mean {evaluation.target} (%)", evaluation.ground_truth_operators)]
    panels += [(f"{r.score_set.name}\nnumbers: mean score", r.operators["proxy_score"].to_numpy().reshape(
        len(EDGE_NAMES), len(OPS))) for r in evaluation.results]
    fig, axes = panel_grid(len(panels), width=4.0, height=3.2, layout="constrained")
    for ax, (title, scores) in zip(axes, panels):
        ranks = stats.rankdata(-np.nan_to_num(scores, nan=-np.inf), axis=1, method="min").astype(float)
        ranks[~np.isfinite(scores)] = np.nan  # no cell holds that op: grey
        image = ax.imshow(ranks, cmap=RANK_COLOURS, vmin=0.5, vmax=len(OPS) + 0.5, aspect="auto")
        for (e, o), value in np.ndenumerate(scores):
            ax.text(o, e, "-" if not np.isfinite(value) else f"{value:.3g}", ha="center", va="center", fontsize=6,
                    color="white" if ranks[e, o] >= 4 else "black")
        ax.set_xticks(range(len(OPS)), [op.replace("nor_", "").replace("_connect", "") for op in OPS], fontsize=6,
                      rotation=30)
        ax.set_yticks(range(len(EDGE_NAMES)), EDGE_NAMES, fontsize=7)
        ax.set_title(title, fontsize=8)
    bar = fig.colorbar(image, ax=[ax for ax in fig.axes if ax.get_visible()], ticks=range(1, len(OPS) + 1),
                       shrink=0.8)
    bar.set_label("colour (all panels): the op's rank on its edge, 1 = best", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    bar.ax.invert_yaxis()  # the best rank on top
    return fig
