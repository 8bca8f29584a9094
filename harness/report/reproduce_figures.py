"""Figures of reproduced tables: each table's measured numbers beside the published ones, and the cost-quality
chart across tables (Kendall tau against seconds of compute), the picture for choosing a proxy for a budget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from adjustText import adjust_text  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

#: metrics the cost-quality chart places on its y-axis
QUALITY_METRIC = "kendall_tau"


def table_figure(data: pd.DataFrame):
    """One panel per metric and dataset, each dataset on its own axis (a search's best accuracy is about 94 on
    CIFAR-10 and 47 on ImageNet16-120: one shared axis hides every difference): every measured row as a point with
    its interval or std, the published value and its std as a hollow marker beside it. One legend, naming only
    what some panel draws. `data` is `results.frame(rows)`."""
    measured = data[data["reason"].astype("string").fillna("") == ""]
    panels = [(metric, dataset, part.reset_index(drop=True))
              for (metric, dataset), part in measured.groupby(["metric", "dataset"], sort=False)]
    datasets = list(dict.fromkeys(measured["dataset"]))
    if len(datasets) > 1:  # a row of panels per metric, a column per dataset
        metrics = list(dict.fromkeys(measured["metric"]))
        places = [(metrics.index(metric), datasets.index(dataset)) for metric, dataset, _ in panels]
        cols = len(datasets)
    else:
        cols = max(1, min(len(panels), 3))
        places = [divmod(i, cols) for i in range(len(panels))]
    n_rows = max([r for r, _ in places], default=0) + 1
    tallest = [max([len(part) for (r, _), (*_, part) in zip(places, panels) if r == row], default=1)
               for row in range(n_rows)]
    heights = [0.9 + 0.28 * t for t in tallest]
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.6 * cols, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    used = set(places)
    for (r, c), ax in np.ndenumerate(axes):
        ax.set_visible((r, c) in used)
    if not panels:
        axes[0, 0].set_visible(True)
        axes[0, 0].set_title("(nothing measured)", fontsize=9)
    for (r, c), (metric, dataset, part) in zip(places, panels):
        ax = axes[r, c]
        y = np.arange(len(part))[::-1]
        low, high = _error(part)
        ax.errorbar(part["value"], y, xerr=[low, high], fmt="o", ms=4, color="C0", label="measured")
        has_ref = part["published"].notna().to_numpy()
        if has_ref.any():
            ax.errorbar(part.loc[has_ref, "published"], y[has_ref] - 0.25,
                        xerr=part.loc[has_ref, "published_std"].fillna(0), fmt="D", ms=4, mfc="none", color="C3",
                        label="published")
        ax.set_yticks(y, part["row"], fontsize=7)
        ax.set_ylim(-0.7, len(part) - 0.3)
        ax.set_title(f"{metric}: {dataset}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))  # narrow ranges: few ticks, which do not run together
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _figure_legend(fig)
    return fig


def _figure_legend(fig, below: bool = False, title: str | None = None) -> None:
    """One legend above (or below) the panels, outside them, with one entry per label some panel draws: no
    entry without a mark, and none at all when nothing is drawn."""
    entries = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(entries.values(), entries.keys(), loc="upper center" if below else "lower center",
                   bbox_to_anchor=(0.5, 0.0 if below else 1.0), ncol=len(entries), fontsize=8, frameon=False,
                   title=title, title_fontsize=8)


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


def numbered(points: pd.DataFrame) -> pd.DataFrame:
    """The chart's points in the order its keys list them, numbered from 1 within each dataset: datasets as they
    first appear, the best Kendall tau first."""
    order = points["dataset"].map({d: i for i, d in enumerate(dict.fromkeys(points["dataset"]))})
    ranked = points.assign(order=order).sort_values(["order", QUALITY_METRIC], ascending=[True, False],
                                                    kind="stable").drop(columns="order")
    return ranked.assign(number=ranked.groupby("dataset", sort=False).cumcount() + 1)


def cost_quality_figure(points: pd.DataFrame):
    """One panel per dataset: Kendall tau against seconds (log scale), coloured by table. A point is marked with
    its number (`numbered`), and the key beside the panel names its row and the cells it ranked: names written at
    the points would cover each other where a dozen proxies cost about the same. The numbers are moved apart
    (adjustText), points on one spot share one; the one legend of tables sits below the panels."""
    datasets = list(dict.fromkeys(points["dataset"])) or ["(nothing measured)"]
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9.0, 4.2 * len(datasets)), squeeze=False)
    colours = {table: f"C{i}" for i, table in enumerate(dict.fromkeys(points["table"]))}
    placed = []
    for ax, dataset in zip(axes[:, 0], datasets):
        part = numbered(points[points["dataset"] == dataset])
        for table, group in part.groupby("table", sort=False):
            ax.scatter(group["seconds"], group[QUALITY_METRIC], s=22, color=colours[table], label=table, zorder=3)
        ax.set_xscale("log")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{dataset}: quality against cost", fontsize=9)
        ax.set_xlabel("seconds of compute (log; training included)", fontsize=8)
        ax.set_ylabel("Kendall tau against the ground truth", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(part):
            ax.margins(x=0.1, y=0.1)
            key = "\n".join(f"{r.number:>2}  {r.row} ({r.n})" for r in part.itertuples())
            ax.text(1.02, 1.0, key, transform=ax.transAxes, va="top", ha="left", fontsize=6, family="monospace")
            placed.append((ax, part))
    fig.tight_layout()
    _figure_legend(fig, below=True, title="table")
    for ax, part in placed:  # once the panels have their final size: the numbers are moved apart in it
        marks = [ax.text(x, y, text, fontsize=7) for x, y, text in _label_places(part).itertuples(index=False)]
        adjust_text(marks, x=part["seconds"].to_numpy(), y=part[QUALITY_METRIC].to_numpy(), ax=ax,
                    expand=(1.6, 1.8), force_text=(0.4, 0.6), force_static=(0.4, 0.6), min_arrow_len=3,
                    arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.5})
    return fig


def _label_places(part: pd.DataFrame) -> pd.DataFrame:
    """(x, y, text) of the numbers marking the points of `numbered(...)`: points that fall on one spot (params
    and FLOPs cost the same and rank alike) share one mark, "1, 2", which no label mover could pull apart."""
    spot = [(np.log10(part["seconds"]) * 20).round(), (part[QUALITY_METRIC] * 200).round()]
    marks = pd.DataFrame({"x": part["seconds"], "y": part[QUALITY_METRIC], "text": part["number"].astype(str)})
    return marks.groupby(spot, sort=False).agg(x=("x", "mean"), y=("y", "mean"),
                                               text=("text", ", ".join)).reset_index(drop=True)
