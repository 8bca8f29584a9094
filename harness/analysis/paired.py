"""Is one proxy better than another on the same cells, beyond noise? Paired bootstrap differences.

Both proxies are evaluated on every resample of the cells they both scored, the same resamples for both, so the
difference's interval reflects only what differs between them (the cells' difficulty is shared). Every metric is
computed on all resamples at once from their multiplicities, exactly as on the materialised resample (the kernels
of `harness.analysis.evaluate`). The interval is the percentile interval of the resampled differences; the
two-sided p-value sets the observed difference against its bootstrap standard error (`paired_p_value`), so
identical proxies get a difference of exactly 0 and p = 1; `holm` adjusts a family of p-values.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import stats

from harness.analysis import metrics as m
from harness.analysis.bootstrap import kendall_tau_b_weighted, spearman_weighted
from harness.analysis.evaluate import _resamples, _top_copies, best_in_top_k_bootstrap, top_k_bootstrap
from harness.errors import HarnessError

#: the metrics compared, as `metrics.csv` labels them
PAIRED_METRICS = ("kendall_tau", "spearman_rho", "top_kendall_tau@20%", "retrieval_rate@5%", "retrieval_rate@10%",
                  "precision_at_k@10", "best_accuracy_at_k@1", "best_accuracy_at_k@10")
COLUMNS = ["proxy", "against", "metric", "value", "against_value", "diff", "lo", "hi", "p", "p_holm", "n"]


def metric_points(t: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """The compared metrics of rank-ready scores `s` against the truth `t` (no NaN in either)."""
    return {"kendall_tau": m.kendall_tau(t, s), "spearman_rho": m.spearman_rho(t, s),
            "top_kendall_tau@20%": m.top_k_kendall(t, s, 20), "retrieval_rate@5%": m.retrieval_rate(t, s, 5),
            "retrieval_rate@10%": m.retrieval_rate(t, s, 10), "precision_at_k@10": m.precision_at_k(t, s, 10),
            "best_accuracy_at_k@1": float(t[m.top_k(s, 1)].max()),
            "best_accuracy_at_k@10": float(t[m.top_k(s, 10)].max())}


def metric_resamples(t: np.ndarray, s: np.ndarray, weights: np.ndarray, by_cell: np.ndarray) -> dict[str, np.ndarray]:
    """(B,) values of every compared metric on the resamples with multiplicities `weights` (B, n)."""
    top = top_k_bootstrap(t, s, by_cell, (20,), (5, 10))
    (cells_t, copies_t), = _top_copies(t, by_cell, {10}).values()
    (cells_s, copies_s), = _top_copies(s, by_cell, {10}).values()
    _, in_t, in_s = np.intersect1d(cells_t, cells_s, assume_unique=True, return_indices=True)
    best = best_in_top_k_bootstrap(t, s, by_cell, (1, 10))
    return {"kendall_tau": kendall_tau_b_weighted(t, s, weights), "spearman_rho": spearman_weighted(t, s, weights),
            "top_kendall_tau@20%": top[("top_kendall_tau", 20)], "retrieval_rate@5%": top[("retrieval_rate", 5)],
            "retrieval_rate@10%": top[("retrieval_rate", 10)],
            "precision_at_k@10": np.minimum(copies_t[in_t], copies_s[in_s]).sum(axis=0) / 10,
            "best_accuracy_at_k@1": best[1], "best_accuracy_at_k@10": best[10]}


def paired_p_value(diff: float, resampled: np.ndarray) -> float:
    """Two-sided: the difference over its bootstrap standard error, against the normal. (The share of resampled
    differences beyond it cannot go below 1/(B + 1), which Holm's correction over dozens of comparisons would
    then make insignificant however large the difference.) Identical proxies: 0 over 0, p = 1."""
    resampled = resampled[np.isfinite(resampled)]
    if not np.isfinite(diff) or resampled.size < 2:
        return math.nan
    se = float(np.std(resampled, ddof=1))
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * stats.norm.sf(abs(diff) / se))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and does not count)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (len(order) - np.arange(len(order))) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def paired_differences(y_true, score_a, score_b, *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                       metrics=PAIRED_METRICS) -> pd.DataFrame:
    """Metric of A minus metric of B on the cells both scored (and with ground truth), with the paired bootstrap
    interval and p-value; one row per metric (metric, value, against_value, diff, lo, hi, p, n)."""
    return _compare(np.asarray(y_true, float), np.asarray(score_a, float), [np.asarray(score_b, float)], n_boot,
                    seed, alpha, metrics)[0]


def _compare(truth, score_a, others, n_boot, seed, alpha, metrics) -> list[pd.DataFrame]:
    if n_boot < 1:
        raise HarnessError(f"n_boot={n_boot}: a paired comparison needs resamples (1 or more)")
    unknown = sorted(set(metrics) - set(PAIRED_METRICS))
    if unknown:
        raise HarnessError(f"unknown paired metric(s) {unknown}; the paired metrics are {', '.join(PAIRED_METRICS)}")
    cache: dict[bytes, tuple] = {}

    def mine(mask: np.ndarray):
        """A's values on the cells of `mask`, once per cell set: the zoo often shares one."""
        key = np.packbits(mask).tobytes()
        if key not in cache:
            t, s = truth[mask], m.rank_ready(score_a[mask])
            weights, by_cell = _resamples(len(t), n_boot, seed)
            cache[key] = (t, metric_points(t, s), metric_resamples(t, s, weights, by_cell), weights, by_cell)
        return cache[key]

    def one(score_b: np.ndarray) -> pd.DataFrame:
        if score_b.shape != truth.shape:
            raise HarnessError(f"the scores to compare hold {score_b.size} values, the ground truth {truth.size}")
        mask = np.isfinite(truth) & ~np.isnan(score_a) & ~np.isnan(score_b)
        rows = []
        if m.undefined_reason(truth[mask], m.rank_ready(score_a[mask])) or mask.sum() < 10:
            return pd.DataFrame([{"metric": k, "value": math.nan, "against_value": math.nan, "diff": math.nan,
                                  "lo": math.nan, "hi": math.nan, "p": math.nan, "n": int(mask.sum())}
                                 for k in metrics])
        t, points_a, boot_a, weights, by_cell = mine(mask)
        s = m.rank_ready(score_b[mask])
        points_b, boot_b = metric_points(t, s), metric_resamples(t, s, weights, by_cell)
        for k in metrics:
            diff = points_a[k] - points_b[k]
            resampled = boot_a[k] - boot_b[k]
            finite = resampled[np.isfinite(resampled)]
            lo, hi = (np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if finite.size
                      else (math.nan, math.nan))
            rows.append({"metric": k, "value": points_a[k], "against_value": points_b[k], "diff": diff,
                         "lo": float(lo), "hi": float(hi), "p": paired_p_value(diff, resampled), "n": int(mask.sum())})
        return pd.DataFrame(rows)

    with ThreadPoolExecutor(max_workers=max(1, min(len(others), os.cpu_count() or 1))) as pool:
        return list(pool.map(one, others))


def compare_scores(name: str, truth_all: np.ndarray, indices: np.ndarray, scores: np.ndarray,
                   against: dict[str, tuple[np.ndarray, np.ndarray]], *, n_boot: int = 1000, seed: int = 0,
                   alpha: float = 0.05, metrics=PAIRED_METRICS) -> pd.DataFrame:
    """Proxy `name` (its cells' official `indices` and `scores`) against each of `against` (name -> (indices,
    scores)) on the cells both scored, against the ground truth `truth_all` of every cell: the tidy rows of
    `COLUMNS`, with Holm's adjustment over every comparison made (all metrics and all proxies)."""
    def spread(idx, values):
        full = np.full(truth_all.shape, np.nan)
        full[np.asarray(idx)] = values
        return full

    if not against:
        return pd.DataFrame(columns=COLUMNS)
    mine = spread(indices, scores)
    frames = _compare(np.asarray(truth_all, float), mine, [spread(*v) for v in against.values()], n_boot, seed, alpha,
                      metrics)
    table = pd.concat([f.assign(proxy=name, against=other) for other, f in zip(against, frames)], ignore_index=True)
    table["p_holm"] = holm(table["p"].to_numpy())
    return table[COLUMNS]
