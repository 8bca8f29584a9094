"""Figures of reproduced tables: each table's measured numbers beside the published ones, and the cost-quality
chart across tables (Kendall tau against seconds of compute), the picture for choosing a proxy for a budget."""
from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.figures import panel_grid

#: metrics the cost-quality chart places on its y-axis
QUALITY_METRIC = "kendall_tau"


def table_figure(data: pd.DataFrame):
    """One panel per metric: every measured row (per dataset) as a point with its interval or std, the published
    value and its std as a hollow marker beside it. `data` is `results.frame(rows)`."""
    measured = data[data["reason"].astype("string").fillna("") == ""]
    metrics = list(dict.fromkeys(measured["metric"])) or ["(nothing measured)"]
    tallest = measured.groupby("metric").size().max() if len(measured) else 1
    fig, axes = panel_grid(len(metrics), width=4.6, height=0.9 + 0.28 * tallest)
    for ax, metric in zip(axes, metrics):
        part = measured[measured["metric"] == metric].reset_index(drop=True)
        y = np.arange(len(part))[::-1]
        low, high = _error(part)
        ax.errorbar(part["value"], y, xerr=[low, high], fmt="o", ms=4, color="C0", label="measured")
        has_ref = part["published"].notna()
        ax.errorbar(part.loc[has_ref, "published"], y[has_ref] - 0.25,
                    xerr=part.loc[has_ref, "published_std"].fillna(0), fmt="D", ms=4, mfc="none", color="C3",
                    label="published")
        ax.set_yticks(y, [f"{r} ({d})" for r, d in zip(part["row"], part["dataset"])], fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _error(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Error bar half-widths: the confidence interval where there is one, else the std over seeds, else none."""
    ci = part["ci_low"].notna()
    std = part["std"].fillna(0).to_numpy()
    low = np.where(ci, part["value"] - part["ci_low"], std)
    high = np.where(ci, part["ci_high"] - part["value"], std)
    return np.nan_to_num(low), np.nan_to_num(high)


def cost_quality_points(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every measured Kendall tau that has the seconds it cost, from the tables' frames: one point per row, dataset
    and setting (a measurement two tables share, such as a supernet proxy in abs-correlation and eps-top20, once)."""
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["metric"])
    points = data[(data["metric"] == QUALITY_METRIC) & data["value"].notna() & (data["seconds"] > 0)]
    points = points.drop_duplicates(["row", "dataset", "value", "seconds", "n"])
    return points[["table", "row", "dataset", "value", "std", "ci_low", "ci_high", "n", "seconds",
                   "settings"]].rename(columns={"value": QUALITY_METRIC}).reset_index(drop=True)


def cost_quality_figure(points: pd.DataFrame):
    """One panel per dataset: Kendall tau against seconds (log scale), coloured by table, each point labelled with
    its row and the number of cells it ranked."""
    datasets = list(dict.fromkeys(points["dataset"])) or ["(nothing measured)"]
    fig, axes = panel_grid(len(datasets), width=5.2, height=4.2)
    colours = {table: f"C{i}" for i, table in enumerate(dict.fromkeys(points["table"]))}
    for ax, dataset in zip(axes, datasets):
        part = points[points["dataset"] == dataset]
        for table, group in part.groupby("table", sort=False):
            ax.scatter(group["seconds"], group[QUALITY_METRIC], s=22, color=colours[table], label=table)
            for r in group.itertuples():
                ax.annotate(f"{r.row} ({r.n})", (r.seconds, getattr(r, QUALITY_METRIC)), fontsize=6,
                            xytext=(3, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{dataset}: quality against cost", fontsize=9)
        ax.set_xlabel("seconds of compute (log; training included)", fontsize=8)
        ax.set_ylabel("Kendall tau against the ground truth", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(part):
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
