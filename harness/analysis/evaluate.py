"""Evaluate score sets against the ground truth: a tidy table of metrics with bootstrap intervals.

Intervals are 95% (by default) percentile intervals over bootstrap resamples of the scored cells, the same
resamples for every metric of a score set, all computed at once from each resample's multiplicities (no loop
over resamples; see `bootstrap`). P@K, BR@K and WR@K are counts over a handful of cells and get no interval; the
ground truth of the proxy's top-1 pick and the best among its top 10 (what a search that trusts the proxy ends
with) get one, as do the top-k curves over k.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from harness.analysis import metrics as m
from harness.analysis.baselines import baseline_score_sets
from harness.analysis.bootstrap import kendall_tau_b_weighted, pearson_weighted, resample_weights, spearman_weighted
from harness.analysis.operators import operator_table
from harness.analysis.score_sets import ScoreSet, distinct_names
from harness.errors import HarnessError
from harness.oracle import Oracle
from harness.oracle.keys import IMAGES
from harness.space import class_ids, format_arch

TOP_PERCENTS = (1, 5, 10, 20)
PRECISION_KS = (10, 100)
RANK_KS = (10,)
ACCURACY_KS = (1, 10)  # best ground truth among the proxy's top K: K=1 is its pick
CURVE_PERCENTS = (1, 2, 5, 10, 20, 30, 50, 100)
#: `--dataset all`: each dataset against its test split (ori-test on CIFAR-10, x-test on the others, as NB201 reports)
ALL_TARGETS = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}
COLUMNS = ["metric", "k", "unit", "label", "value", "ci_low", "ci_high", "n_cells", "n_nan", "n_inf", "n_no_truth",
           "reason"]


def metric_label(metric: str, k: float | None, unit: str) -> str:
    """'kendall_tau', 'retrieval_rate@5%', 'precision_at_k@10': the names the gate and reports use."""
    if k is None or (isinstance(k, float) and math.isnan(k)):
        return metric
    return f"{metric}@{k:g}{'%' if unit == '%' else ''}"


def evaluate_scores(y_true, y_score, *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                    top_percents=TOP_PERCENTS, top_kendall_percent: float = 20, precision_ks=PRECISION_KS,
                    rank_ks=RANK_KS, accuracy_ks=ACCURACY_KS) -> pd.DataFrame:
    """All metrics of one score array against the ground truth, one row each (see COLUMNS).

    NaN scores and cells without ground truth are counted and excluded; infinite scores are counted and kept, as
    ties below (-inf) or above (+inf) every finite score (`harness.analysis.metrics`); a metric that cannot be
    defined on what is left is NaN with the reason.
    """
    t, raw, dropped = m.usable_pairs(y_true, y_score)
    s = m.rank_ready(raw)  # the ranks of the scores, infinities included, in finite numbers
    n = len(t)
    reason = m.undefined_reason(t, s)
    infinite = (f"{dropped['inf_score']} infinite score(s): Pearson's r is not a rank metric and is undefined with "
                f"them (the rank metrics rank them as ties at the ends)") if dropped["inf_score"] else None
    rows: list[dict] = []

    def add(metric, value, k=None, unit="", ci=(math.nan, math.nan), why=None):
        rows.append({"metric": metric, "k": math.nan if k is None else float(k), "unit": unit,
                     "label": metric_label(metric, k, unit), "value": value, "ci_low": ci[0], "ci_high": ci[1],
                     "n_cells": n, "n_nan": dropped["nan_score"], "n_inf": dropped["inf_score"],
                     "n_no_truth": dropped["no_truth"], "reason": why or ""})

    correlations = {"kendall_tau": (m.kendall_tau, kendall_tau_b_weighted),
                    "spearman_rho": (m.spearman_rho, spearman_weighted), "pearson_r": (m.pearson_r, pearson_weighted)}
    weights, by_cell = _resamples(n, n_boot, seed) if reason is None and n_boot > 0 else (None, None)
    for name, (point, boot) in correlations.items():
        if reason or (name == "pearson_r" and infinite):
            add(name, math.nan, why=reason or infinite)
        else:
            add(name, point(t, s), ci=_interval(boot(t, s, weights), alpha) if weights is not None else
                (math.nan, math.nan))
    top_metrics = [("top_kendall_tau", top_kendall_percent)] + [("retrieval_rate", k) for k in top_percents]
    boot_top = top_k_bootstrap(t, s, by_cell, (top_kendall_percent,), top_percents) if weights is not None else {}
    for name, k in top_metrics:
        if reason:
            add(name, math.nan, k, "%", why=reason)
            continue
        if name == "top_kendall_tau":
            value = m.top_k_kendall(t, s, k)
            why = "" if np.isfinite(value) else (m.undefined_reason(*_top_cells(t, s, k)) or "undefined")
        else:
            value, why = m.retrieval_rate(t, s, k), ""
        add(name, value, k, "%", _interval(boot_top[(name, k)], alpha) if boot_top else (math.nan, math.nan), why)
    for k in precision_ks:
        add("precision_at_k", m.precision_at_k(t, s, k) if n >= k and not reason else math.nan, k, "cells",
            why=_k_reason(n, k, reason))
    for k in rank_ks:
        ok = n >= k and not reason
        best = m.best_rank_at_k(t, s, k) if ok else math.nan
        worst = m.worst_rank_at_k(t, s, k) if ok else math.nan
        add("best_rank_at_k", best, k, "cells", why=_k_reason(n, k, reason))
        add("best_percentile_at_k", 100 * best / n if ok else math.nan, k, "cells", why=_k_reason(n, k, reason))
        add("worst_rank_at_k", worst, k, "cells", why=_k_reason(n, k, reason))
        add("worst_percentile_at_k", 100 * worst / n if ok else math.nan, k, "cells", why=_k_reason(n, k, reason))
    ks = [k for k in accuracy_ks if n >= k] if not reason else []
    boot_best = best_in_top_k_bootstrap(t, s, by_cell, ks) if weights is not None else {}
    for k in accuracy_ks:
        best = float(t[m.top_k(s, k)].max()) if k in ks else math.nan
        add("best_accuracy_at_k", best, k, "cells", _interval(boot_best[k], alpha) if k in boot_best else
            (math.nan, math.nan), _k_reason(n, k, reason))
    return pd.DataFrame(rows, columns=COLUMNS)


def top_k_curves(y_true, y_score, *, percents=CURVE_PERCENTS, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Retrieval rate and Kendall tau inside the ground-truth top k% at every k of `percents`, one row each
    (metric, k, value, ci_low, ci_high), with intervals over the resamples `evaluate_scores` draws for the same
    cells and seed; no rows where the rank metrics are undefined."""
    t, raw, _ = m.usable_pairs(y_true, y_score)
    s = m.rank_ready(raw)
    columns = ["metric", "k", "value", "ci_low", "ci_high"]
    if m.undefined_reason(t, s):
        return pd.DataFrame(columns=columns)
    boot = top_k_bootstrap(t, s, _resamples(len(t), n_boot, seed)[1], percents, percents) if n_boot > 0 else {}
    rows = []
    for k in percents:
        for name, point in (("retrieval_rate", m.retrieval_rate), ("top_kendall_tau", m.top_k_kendall)):
            rows.append([name, k, point(t, s, k), *(_interval(boot[(name, k)], alpha) if boot else (math.nan, math.nan))])
    return pd.DataFrame(rows, columns=columns)


def _k_reason(n: int, k: int, reason: str | None) -> str:
    return reason or (f"only {n} cells scored, fewer than K={k}" if n < k else "")


def _top_cells(t, s, k_percent):
    inside = m.top_k(t, m.top_k_count(len(t), k_percent))
    return t[inside], s[inside]


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


_RESAMPLES_LOCK = threading.Lock()


def _resamples(n: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap multiplicities (B, n) and their transpose (n, B), made once for all score sets of a size."""
    with _RESAMPLES_LOCK:
        return _make_resamples(n, n_boot, seed)


@lru_cache(maxsize=2)
def _make_resamples(n: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    weights = resample_weights(n, n_boot, seed)
    by_cell = np.ascontiguousarray(weights.T)
    weights.setflags(write=False)
    by_cell.setflags(write=False)
    return weights, by_cell


def _top_copies(values: np.ndarray, by_cell: np.ndarray, counts) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each K in `counts`: the cells that can fall in a resample's top K (best first) and, per cell and
    resample, how many of its copies do. Ties go to the earlier cell, as `metrics.top_k` on the materialised
    resample. Only the prefix of the sorted order that some resample still draws from is kept."""
    order = np.argsort(-values, kind="stable")
    ordered = by_cell[order]  # (n, B): whole rows, a fast gather
    before = np.cumsum(ordered, axis=0, dtype=ordered.dtype) - ordered
    floor = before.min(axis=1)  # non-decreasing: from this cell on, every resample has its K already
    out = {}
    for k in counts:
        end = int(np.searchsorted(floor, k, side="left"))
        out[k] = order[:end], np.clip(k - before[:end], 0, ordered[:end])
    return out


def top_k_bootstrap(t, s, by_cell, top_kendall_percents, top_percents) -> dict:
    """Bootstrap values of the top-k% metrics, exactly as on each materialised resample, without a loop:
    a resample's top K in truth (or score) order takes each cell's copies until K are taken, so P@K counts
    min(copies in truth's top K, copies in the score's top K), and top-k% Kendall is the weighted tau-b of the
    truth's top-K copies (NaN where fewer than two cells can be among them). `by_cell` is the (n, B) transpose
    of the resample multiplicities. Keys: ("retrieval_rate", k) and ("top_kendall_tau", k)."""
    n = len(t)
    counts = {k: m.top_k_count(n, k) for k in (*top_percents, *top_kendall_percents)}
    by_truth = _top_copies(t, by_cell, set(counts.values()))
    by_score = _top_copies(s, by_cell, {counts[k] for k in top_percents})
    out = {}
    for k in top_percents:
        (cells_t, copies_t), (cells_s, copies_s) = by_truth[counts[k]], by_score[counts[k]]
        _, in_t, in_s = np.intersect1d(cells_t, cells_s, assume_unique=True, return_indices=True)
        out[("retrieval_rate", k)] = np.minimum(copies_t[in_t], copies_s[in_s]).sum(axis=0) / counts[k]
    for k in top_kendall_percents:
        cells, copies = by_truth[counts[k]]
        out[("top_kendall_tau", k)] = (kendall_tau_b_weighted(t[cells], s[cells], copies.T) if cells.size > 1
                                       else np.full(by_cell.shape[1], math.nan))
    return out


def best_in_top_k_bootstrap(t, s, by_cell, ks) -> dict[int, np.ndarray]:
    """(B,) bootstrap values of the best ground truth among the proxy's top K cells for each K in `ks`, exactly as
    on each materialised resample: its top K by score takes each cell's copies until K are taken (ties to the
    earlier cell), and the best truth among the cells with a copy taken is the value (K=1: the pick's truth)."""
    return {k: np.where(copies > 0, t[cells][:, None], -np.inf).max(axis=0)
            for k, (cells, copies) in _top_copies(s, by_cell, set(ks)).items()} if ks else {}


def collapse_to_classes(cells, y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Mean ground truth and mean score per isomorphism class among the given cells (NaN scores ignored)."""
    frame = pd.DataFrame({"c": class_ids(cells), "t": y_true, "s": np.where(np.isfinite(y_score), y_score, np.nan)})
    grouped = frame.groupby("c", sort=True).mean()
    return grouped["t"].to_numpy(), grouped["s"].to_numpy()


@dataclass
class SetResult:
    """One score set's evaluation: its cells' official indices and ground truth, metrics, operator scores, the
    top-k curves (`top_k_curves`) and its top-1 pick (`top_pick`)."""

    score_set: ScoreSet
    indices: np.ndarray
    truth: np.ndarray
    metrics: pd.DataFrame
    operators: pd.DataFrame
    baseline: bool = False
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    pick: dict = field(default_factory=dict)


@dataclass
class Evaluation:
    """Score sets (and baselines) evaluated against one ground-truth column, with the settings used."""

    dataset: str
    split: str
    hp: int
    results: list[SetResult]
    ground_truth_operators: np.ndarray
    settings: dict = field(default_factory=dict)
    oracle_provenance: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.dataset}/{self.split}@{self.hp}"

    def metrics_table(self) -> pd.DataFrame:
        """The tidy table: one row per (score set, metric)."""
        frames = []
        for r in self.results:
            frame = r.metrics.copy()
            frame.insert(0, "dataset", self.dataset)
            frame.insert(1, "score_set", r.score_set.name)
            frame.insert(2, "baseline", r.baseline)
            frame["target"] = self.target
            frame["table_hash"] = self.oracle_provenance.get("source", {}).get("sha256", "")
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def target_mismatches(score_sets: list[ScoreSet], oracle: Oracle, dataset: str) -> list[str]:
    """What the score sets' provenance says that disagrees with the target: a dataset of other images (a proxy
    scored on CIFAR-100 judged against CIFAR-10's accuracy) or another ground-truth table; one line each."""
    found = []
    for sset in score_sets:
        recorded, table = sset.provenance.get("dataset"), sset.provenance.get("table_hash")
        where = sset.source or sset.name
        if recorded and IMAGES.get(recorded, recorded) != IMAGES.get(dataset, dataset):
            found.append(f"{where} was scored on {recorded} ({IMAGES.get(recorded, 'unknown images')}), the target "
                         f"is {dataset} ({IMAGES.get(dataset, dataset)})")
        if table and table != oracle.table_hash:
            found.append(f"{where} was scored with ground truth {str(table)[:16]}..., the oracle holds "
                         f"{oracle.table_hash[:16]}... ({oracle.meta['benchmark_version']})")
    return found


def evaluate_score_sets(score_sets: list[ScoreSet], oracle: Oracle, *, dataset: str, split: str, hp: int = 200,
                        baselines: bool = True, iso_classes: bool = False, n_boot: int = 1000, seed: int = 0,
                        alpha: float = 0.05, allow_mismatch: bool = False) -> Evaluation:
    """Evaluate every score set, plus the no-training baselines on the union of the cells they cover. A score set
    whose provenance names another dataset's images or another ground truth is refused (`target_mismatches`)
    unless `allow_mismatch`, and then the mismatch is recorded in the settings (and shown in the report)."""
    truth_all = oracle.query(dataset=dataset, split=split, hp=hp)  # validates the target first
    mismatches = target_mismatches(score_sets, oracle, dataset)
    if mismatches and not allow_mismatch:
        raise HarnessError(f"refusing to evaluate against {dataset}/{split}@{hp}: {'; '.join(mismatches)}. Score "
                           f"on the target's dataset and ground truth, or pass --allow-mismatch to evaluate anyway "
                           f"(the report then says so)")
    truth_ops = oracle.operator_scores(dataset=dataset, split=split, hp=hp)
    settings = {"n_boot": n_boot, "seed": seed, "alpha": alpha, "iso_classes": iso_classes,
                "allowed_mismatches": mismatches}
    sets = [(sset, False) for sset in distinct_names(score_sets)]
    if baselines:
        covered = (np.unique(np.concatenate([oracle.indices(sset.cells) for sset, _ in sets])) if sets
                   else np.arange(len(truth_all)))
        sets += [(sset, True) for sset in baseline_score_sets(oracle, covered, dataset, seed)]
    # numpy releases the GIL and the bootstrap kernels keep BLAS single-threaded: one thread per core
    with ThreadPoolExecutor(max_workers=max(1, min(len(sets), os.cpu_count() or 1))) as pool:
        results = list(pool.map(lambda item: _evaluate_one(item[0], oracle, truth_all, truth_ops, item[1], settings),
                                sets))
    return Evaluation(dataset, split, hp, results, truth_ops, settings, oracle.provenance)


def _evaluate_one(sset: ScoreSet, oracle: Oracle, truth_all: np.ndarray, truth_ops: np.ndarray, baseline: bool,
                  settings: dict) -> SetResult:
    indices = oracle.indices(sset.cells)
    truth = truth_all[indices]
    t, s = collapse_to_classes(sset.cells, truth, sset.scores) if settings["iso_classes"] else (truth, sset.scores)
    boot = {"n_boot": settings["n_boot"], "seed": settings["seed"], "alpha": settings["alpha"]}
    metrics = evaluate_scores(t, s, **boot)
    finite = np.isfinite(sset.scores)
    return SetResult(sset, indices, truth, metrics, operator_table(sset.cells[finite], sset.scores[finite], truth_ops),
                     baseline, top_k_curves(t, s, **boot), top_pick(sset.cells, truth, sset.scores, truth_all))


def top_pick(cells, truth, scores, truth_all) -> dict:
    """The cell the proxy ranks first among those with a score and a ground truth (ties to the earlier cell): its
    arch string, ground truth, and rank in the whole table (1 = best); empty when no cell qualifies."""
    usable = np.flatnonzero(np.isfinite(truth) & ~np.isnan(scores))
    if usable.size == 0:
        return {}
    best = usable[m.top_k(m.rank_ready(scores[usable]), 1)[0]]
    return {"arch": format_arch(cells[best]), "truth": float(truth[best]),
            "global_rank": int(np.sum(truth_all > truth[best]) + 1), "of": int(np.isfinite(truth_all).sum())}
