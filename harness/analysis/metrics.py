"""Rank metrics of a proxy's scores against the ground truth: plain functions of (y_true, y_score).

Definitions follow REFERENCE.md section 5. Higher is better for both arrays. Ranks are 1 for the best cell
(ties share the best rank: 1 + the number of cells strictly better). Top-K selections break ties in favour of
the earlier position, so results do not depend on the sort algorithm. A metric that is undefined for its input
(constant scores, fewer than two cells) is NaN; `undefined_reason` says why.

Inputs are validated as scikit-learn's metrics validate theirs: 1-D numbers of one length, K and k% in range, and
an error that names the argument. The rule for scores that are not finite numbers, the same everywhere:
- `-inf` is a legitimate "worst" (jacob_cov and naswot give it to a network whose output ignores its input) and
  `+inf` a legitimate "best": they are kept, and rank below (above) every finite score, tied with each other. Rank
  metrics see exactly that; Pearson's r, which is not a rank metric, is undefined when one is present.
- NaN means "no score": the plain functions refuse it, and `usable_pairs` (which `evaluate_scores` uses) drops those
  cells and counts them, as it drops and counts cells without a ground-truth value.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from harness.errors import HarnessError


def check_arrays(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as 1-D float64 of the same length, or a `HarnessError` naming the bad argument."""
    out = []
    for name, arr in (("y_true", y_true), ("y_score", y_score)):
        try:
            a = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise HarnessError(f"{name} must be numbers, got {type(arr).__name__}") from None
        if a.ndim != 1:
            raise HarnessError(f"{name} must be 1-D (one value per cell), got shape {a.shape}")
        out.append(a)
    if out[0].shape != out[1].shape:
        raise HarnessError(f"y_true and y_score must have one value per cell each; got {out[0].size} and {out[1].size}")
    return out[0], out[1]


def _positions(mask: np.ndarray) -> str:
    where = np.flatnonzero(mask)
    return f"{len(where)} at position(s) {where[:5].tolist()}{' ...' if len(where) > 5 else ''}"


def check_values(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """`check_arrays`, and the rule above: every y_true finite, no NaN in y_score (infinities allowed)."""
    t, s = check_arrays(y_true, y_score)
    if not np.isfinite(t).all():
        raise HarnessError(f"y_true must be finite (every cell's ground truth known); it is not at "
                           f"{_positions(~np.isfinite(t))}. Drop those cells first (usable_pairs does and counts them)")
    if np.isnan(s).any():
        raise HarnessError(f"y_score has NaN (no score) at {_positions(np.isnan(s))}. Drop those cells first "
                           f"(usable_pairs does and counts them); -inf and +inf are allowed and rank last and first")
    return t, s


def rank_ready(y_score) -> np.ndarray:
    """The scores with -inf (+inf) replaced by a value below (above) every finite one: the same ranks, ties
    included, in numbers that every rank computation (and its bootstrap) handles."""
    s = np.array(y_score, dtype=np.float64)
    finite = s[np.isfinite(s)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    span = max(high - low, 1.0)
    s[s == -np.inf] = low - span
    s[s == np.inf] = high + span
    return s


def usable_pairs(y_true, y_score) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The cells metrics are computed over: those with a ground-truth value and a score that is not NaN
    (infinite scores are kept; see the module docstring), and the counts of NaN scores dropped, infinite scores
    kept and cells dropped for want of ground truth."""
    t, s = check_arrays(y_true, y_score)
    has_truth, has_score = np.isfinite(t), ~np.isnan(s)
    counts = {"nan_score": int((~has_score).sum()), "inf_score": int((np.isinf(s) & has_truth).sum()),
              "no_truth": int((~has_truth & has_score).sum())}
    keep = has_truth & has_score
    return t[keep], s[keep], counts


def undefined_reason(y_true, y_score, min_cells: int = 2) -> str | None:
    """Why rank metrics are undefined on these values, or None when they are defined."""
    t, s = check_values(y_true, y_score)
    if len(s) < min_cells:
        return f"{len(s)} scored cell(s) with a score and ground truth; at least {min_cells} needed"
    if np.all(s == s[0]):
        return f"all {len(s)} scores are equal ({s[0]:g}): a constant proxy ranks nothing"
    if np.all(t == t[0]):
        return f"all {len(t)} ground-truth values are equal"
    return None


def _defined(t, s) -> bool:
    return len(t) >= 2 and not np.all(s == s[0]) and not np.all(t == t[0])


def kendall_tau(y_true, y_score) -> float:
    """Kendall tau-b, ties as in scipy.stats.kendalltau."""
    t, s = check_values(y_true, y_score)
    return float(stats.kendalltau(t, rank_ready(s)).statistic) if _defined(t, s) else math.nan


def spearman_rho(y_true, y_score) -> float:
    t, s = check_values(y_true, y_score)
    return float(stats.spearmanr(t, rank_ready(s)).statistic) if _defined(t, s) else math.nan


def pearson_r(y_true, y_score) -> float:
    """Pearson's r; undefined (NaN) when a score is infinite (it is not a rank metric)."""
    t, s = check_values(y_true, y_score)
    return float(stats.pearsonr(t, s).statistic) if _defined(t, s) and np.isfinite(s).all() else math.nan


def top_k_count(n: int, k_percent: float) -> int:
    """How many cells the top `k_percent` % of `n` holds: ceil(n * k / 100), at least 1."""
    if isinstance(k_percent, bool) or not isinstance(k_percent, (int, float, np.integer, np.floating)) or not (
            0 < k_percent <= 100):
        raise HarnessError(f"k_percent must be a number in (0, 100], got {k_percent!r}")
    return max(1, math.ceil(n * k_percent / 100 - 1e-9))


def top_k(values, k: int) -> np.ndarray:
    """Positions of the k highest values, best first; ties go to the earlier position."""
    values = np.asarray(values, dtype=np.float64)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(values):
        raise HarnessError(f"k must be an integer in 1..{len(values)} (the number of cells), got {k!r}")
    return np.argsort(-values, kind="stable")[:k]


def top_k_kendall(y_true, y_score, k_percent: float = 20.0) -> float:
    """Kendall tau-b among the cells in the ground-truth top `k_percent` % (EPS reports 20%)."""
    t, s = check_values(y_true, y_score)
    if len(t) < 2:
        return math.nan
    inside = top_k(t, top_k_count(len(t), k_percent))
    return kendall_tau(t[inside], s[inside])


def precision_at_k(y_true, y_score, k: int) -> float:
    """P@K: the share of the proxy's top K cells that are in the ground-truth top K."""
    t, s = check_values(y_true, y_score)
    return len(np.intersect1d(top_k(t, k), top_k(s, k))) / k


def retrieval_rate(y_true, y_score, k_percent: float) -> float:
    """EcoNAS retrieval rate: |proxy top-k% & ground-truth top-k%| / |ground-truth top-k%|."""
    t, _ = check_values(y_true, y_score)
    return precision_at_k(y_true, y_score, top_k_count(len(t), k_percent))


def ground_truth_ranks(y_true) -> np.ndarray:
    """Rank of each cell by ground truth: 1 for the best, ties sharing the better rank."""
    t = np.asarray(y_true, dtype=np.float64)
    return len(t) - np.searchsorted(np.sort(t), t, side="right") + 1


def best_rank_at_k(y_true, y_score, k: int) -> int:
    """BR@K: the best ground-truth rank (1 = best) among the proxy's top K cells."""
    t, s = check_values(y_true, y_score)
    return int(ground_truth_ranks(t)[top_k(s, k)].min())


def worst_rank_at_k(y_true, y_score, k: int) -> int:
    """WR@K: the worst ground-truth rank among the proxy's top K cells (Ning et al. 2021)."""
    t, s = check_values(y_true, y_score)
    return int(ground_truth_ranks(t)[top_k(s, k)].max())
