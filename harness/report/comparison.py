"""The comparison with the zoo in an evaluation report: a leaderboard (every proxy's Kendall tau and Spearman on the
cells it shares with yours, your difference to each with its paired interval and Holm-adjusted p) and a forest
plot of the differences."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: the forest plot's panels
FOREST_METRICS = ("kendall_tau", "spearman_rho", "top_kendall_tau@20%", "best_accuracy_at_k@1")
LEADERBOARD_MEANINGS = [
    ("proxy", "your proxy (yours), then every zoo proxy compared with it"),
    ("cells", "the cells both scored (yours: all you scored), on which every number of the row is computed"),
    ("Kendall τ", "the proxy's Kendall tau-b against the ground truth on those cells"),
    ("Spearman ρ", "its Spearman correlation on those cells"),
    ("yours − it (τ)", "your Kendall tau minus this proxy's, with the 95% paired bootstrap interval (the same "
                       "resamples of cells for both)"),
    ("p (Holm)", "two-sided p-value of that difference over its paired-bootstrap standard error, Holm-adjusted over "
                 "every comparison of the report's table (all metrics, all zoo proxies): below 0.05, the difference "
                 "is beyond noise; < 1e-300 where the normal tail underflows"),
]


def _p_value_text(p: float) -> str:
    """A p-value as the leaderboard shows it: one whose normal tail underflowed to 0 (a difference of more than
    about 38 standard errors, common over all 15,625 cells) reads as a bound, not as an impossible 0."""
    return f"{p:.3g}" if p != 0 else "< 1e-300"


def leaderboard(comparison: pd.DataFrame, name: str, own: dict[str, float], n_cells: int) -> pd.DataFrame:
    """One row per proxy, sorted by Kendall tau: `name` (your proxy, with its `own` metrics on all its cells) and
    every proxy it was compared with on their common cells."""
    mine = comparison[comparison["proxy"] == name]
    rows = [{"proxy": f"{name} (yours)", "cells": n_cells, "tau": own["kendall_tau"], "rho": own["spearman_rho"],
             "yours − it (τ)": "", "p (Holm)": ""}]
    for other, group in mine.groupby("against", sort=False):
        by = group.set_index("metric")
        tau = by.loc["kendall_tau"]
        rows.append({"proxy": other, "cells": int(tau["n"]), "tau": tau["against_value"],
                     "rho": by.loc["spearman_rho", "against_value"],
                     "yours − it (τ)": f"{tau['diff']:+.3f} [{tau['lo']:+.3f}, {tau['hi']:+.3f}]",
                     "p (Holm)": _p_value_text(tau["p_holm"])})
    table = pd.DataFrame(rows).sort_values("tau", ascending=False, kind="stable")
    table["Kendall τ"] = table.pop("tau").map(lambda v: f"{v:.3f}")
    table["Spearman ρ"] = table.pop("rho").map(lambda v: f"{v:.3f}")
    return table[["proxy", "cells", "Kendall τ", "Spearman ρ", "yours − it (τ)", "p (Holm)"]]


def forest_plot(comparison: pd.DataFrame, name: str):
    """Your proxy minus each zoo proxy, per metric: the point difference and its 95% paired interval; filled where
    the Holm-adjusted p is below 0.05."""
    mine = comparison[comparison["proxy"] == name]
    others = list(dict.fromkeys(mine["against"]))
    fig, axes = plt.subplots(1, len(FOREST_METRICS), figsize=(3.2 * len(FOREST_METRICS), 0.45 * len(others) + 1.6),
                             sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], FOREST_METRICS):
        rows = mine[mine["metric"] == metric].set_index("against").reindex(others)
        y = np.arange(len(others))
        significant = (rows["p_holm"] < 0.05).to_numpy()
        ax.errorbar(rows["diff"], y, xerr=[rows["diff"] - rows["lo"], rows["hi"] - rows["diff"]], fmt="none",
                    ecolor="tab:blue", capsize=3)
        ax.scatter(rows["diff"][significant], y[significant], color="tab:blue", zorder=3, label="p (Holm) < 0.05")
        ax.scatter(rows["diff"][~significant], y[~significant], facecolor="white", edgecolor="tab:blue", zorder=3,
                   label="p (Holm) ≥ 0.05")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel(f"{name} − zoo proxy")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(np.arange(len(others)), others)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    shown = [(h, lab) for h, lab in zip(handles, labels) if len(getattr(h, "get_offsets", lambda: [1])())]
    if shown:
        fig.legend(*zip(*shown), loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
