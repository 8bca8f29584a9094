"""Quality of a shrunk search space against the whole space, exactly from the ground truth (no sampling)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

from harness.errors import HarnessError
from harness.space import NUM_EDGES, NUM_OPS, OPS, encode, parse_archs, validate_cells
from harness.analysis.metrics import top_k, top_k_count


def allowed_ops_mask(allowed) -> np.ndarray:
    """(6, 5) bool mask of the ops each edge keeps, from a mask or from 6 lists of op names or ids."""
    arr = np.asarray(allowed, dtype=object) if not isinstance(allowed, np.ndarray) else allowed
    if isinstance(arr, np.ndarray) and arr.dtype == bool:
        mask = arr
    else:
        if len(allowed) != NUM_EDGES:
            raise HarnessError(f"a space by allowed ops needs one list per edge ({NUM_EDGES}), got {len(allowed)}")
        mask = np.zeros((NUM_EDGES, NUM_OPS), dtype=bool)
        for e, ops in enumerate(allowed):
            for op in ops:
                if isinstance(op, str) and op in OPS:
                    mask[e, OPS.index(op)] = True
                elif isinstance(op, (int, np.integer)) and 0 <= op < NUM_OPS:
                    mask[e, op] = True
                else:
                    raise HarnessError(f"edge {e} allows {op!r}, which is not an op; ops are {', '.join(OPS)}")
    if mask.shape != (NUM_EDGES, NUM_OPS):
        raise HarnessError(f"an allowed-ops mask has shape ({NUM_EDGES}, {NUM_OPS}), got {mask.shape}")
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise HarnessError(f"edge {int(empty[0])} allows no op: a space must keep at least one op on every edge")
    return mask


def cells_in(cells, mask: np.ndarray) -> np.ndarray:
    """Which of the (n, 6) cells the allowed-ops mask keeps."""
    cells = np.asarray(cells)
    return mask[np.arange(NUM_EDGES), cells].all(axis=1)


def in_space(all_cells, space) -> np.ndarray:
    """Which of `all_cells` ((n, 6), e.g. the oracle's cells in index order) a space keeps. The space is given as
    allowed ops per edge (6 lists of op names or ids, or a (6, 5) bool mask) or as its cells (arch strings or an
    (m, 6) op-id array)."""
    arr = np.asarray(space, dtype=object)
    as_cells = arr.ndim == 2 and arr.shape[1] == NUM_EDGES and arr.shape[0] != NUM_EDGES
    as_cells |= arr.ndim == 1 and len(arr) > 0 and all(isinstance(a, str) and a.startswith("|") for a in arr)
    if not as_cells:
        return cells_in(all_cells, allowed_ops_mask(space))
    cells = parse_archs(list(arr)) if arr.ndim == 1 else validate_cells(np.asarray(space))
    return np.isin(encode(all_cells), encode(cells))


def expected_best_of_draws(values, n_draws: int, replace: bool = False) -> float:
    """Exact expected maximum of `n_draws` uniform random draws from `values` (without replacement by default,
    as random search evaluates distinct cells). NaN values are not drawn."""
    v = np.sort(np.asarray(values, dtype=np.float64)[np.isfinite(values)])
    m = len(v)
    if m == 0:
        return float("nan")
    if not replace:
        n_draws = min(n_draws, m)
    i = np.arange(1, m + 1, dtype=np.float64)
    if replace:
        cdf = (i / m) ** n_draws
    else:  # P(max <= v_i) = C(i, N) / C(m, N)
        with np.errstate(invalid="ignore"):
            log = gammaln(i + 1) - gammaln(i - n_draws + 1) - gammaln(m + 1) + gammaln(m - n_draws + 1)
        cdf = np.where(i >= n_draws, np.exp(log), 0.0)
    return float(np.dot(v, np.diff(np.concatenate([[0.0], cdf]))))


def space_quality(truth, inside, top_percents: Sequence[float] = (1, 5), draws: Sequence[int] = (10, 100)) -> dict:
    """How good a sub-space is: size, best ground truth and its global rank (1 = best), mean, the share of the
    global top-k% it keeps, and the expected best of N random draws inside it against the whole space.

    truth: ground truth of every cell of the whole space; inside: bool mask of the cells the sub-space keeps.
    """
    truth = np.asarray(truth, dtype=np.float64)
    inside = np.asarray(inside, dtype=bool)
    if truth.shape != inside.shape:
        raise HarnessError(f"truth and inside must cover the same cells; got {truth.shape} and {inside.shape}")
    finite = np.isfinite(truth)
    kept = truth[inside & finite]
    if kept.size == 0:
        raise HarnessError("the sub-space holds no cell with a ground-truth value")
    best = float(kept.max())
    quality = {"size": int(inside.sum()), "best": best, "best_global_rank": int((truth[finite] > best).sum() + 1),
               "mean": float(kept.mean())}
    positions = np.flatnonzero(finite)
    for k in top_percents:
        top = positions[top_k(truth[finite], top_k_count(finite.sum(), k))]
        quality[f"top{k:g}%_kept"] = float(inside[top].mean())
    for n in draws:
        quality[f"random{n}_best"] = expected_best_of_draws(kept, n)
        quality[f"random{n}_best_full_space"] = expected_best_of_draws(truth, n)
    return quality
