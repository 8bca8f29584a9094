"""The report's figures, each saved as PNG and SVG through temporary files."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness.analysis import metrics as m  # noqa: E402
from harness.analysis.evaluate import Evaluation  # noqa: E402
from harness.atomic import atomic_write  # noqa: E402
from harness.space import EDGE_NAMES, OPS  # noqa: E402

CURVE_PERCENTS = (1, 2, 5, 10, 20, 30, 50, 100)
HEXBIN_ABOVE = 2000  # cells; fewer are drawn as points


def save(fig, directory: Path, stem: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        path = directory / f"{stem}.{ext}"
        atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=110, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def panel_grid(n: int, width: float = 3.4, height: float = 3.0):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
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
            ax.hexbin(x, y, gridsize=40, bins="log", cmap="viridis", mincnt=1)
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
    """Retrieval rate and Kendall tau inside the ground-truth top k%, as curves over k."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in evaluation.results:
        t, s, _ = m.usable_pairs(r.truth, r.score_set.scores)
        if m.undefined_reason(t, s):
            continue
        style = dict(marker="o", ms=3, lw=1.2, ls="--" if r.baseline else "-", label=r.score_set.name)
        left.plot(CURVE_PERCENTS, [m.retrieval_rate(t, s, k) for k in CURVE_PERCENTS], **style)
        right.plot(CURVE_PERCENTS, [m.top_k_kendall(t, s, k) for k in CURVE_PERCENTS], **style)
    for ax, title in ((left, "retrieval rate at top k%"), (right, "Kendall tau inside ground-truth top k%")):
        ax.set_xscale("log")
        ax.set_xticks(CURVE_PERCENTS, [f"{k}%" for k in CURVE_PERCENTS])
        ax.set_xlabel("k")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    fig.tight_layout()
    return fig


def operator_heatmaps(evaluation: Evaluation):
    """6 edges x 5 ops: the ground truth's operator scores, then each score set's (each on its own scale)."""
    panels = [("ground truth: mean " + evaluation.target, evaluation.ground_truth_operators)]
    panels += [(r.score_set.name, r.operators["proxy_score"].to_numpy().reshape(len(EDGE_NAMES), len(OPS)))
               for r in evaluation.results]
    fig, axes = panel_grid(len(panels), width=4.0, height=3.2)
    for ax, (title, scores) in zip(axes, panels):
        ax.imshow(scores, cmap="magma", aspect="auto")
        for (e, o), value in np.ndenumerate(scores):
            ax.text(o, e, "-" if not np.isfinite(value) else f"{value:.3g}", ha="center", va="center", fontsize=6,
                    color="white" if np.isfinite(value) and value < np.nanmean(scores) else "black")
        ax.set_xticks(range(len(OPS)), [op.replace("nor_", "").replace("_connect", "") for op in OPS], fontsize=6,
                      rotation=30)
        ax.set_yticks(range(len(EDGE_NAMES)), EDGE_NAMES, fontsize=7)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig
