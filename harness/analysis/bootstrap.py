"""Correlations on bootstrap resamples, all resamples at once, equal to scipy on each materialised resample.

Bootstrap confidence intervals of rank correlations need the statistic on ~1,000 resamples of up to 15,625
cells; materialising each resample and calling scipy takes seconds per statistic. Here a resample is a row of
multiplicities (`weights[b, i]`: how often cell i was drawn) and each function evaluates every row with
vectorised numpy. Row b's value equals, to 1e-9, the scipy statistic on the materialised resample
`np.repeat(x, weights[b])`, `np.repeat(y, weights[b])`, ties included (a cell drawn twice is a tie in both x
and y), and is NaN where scipy's is NaN (constant x or y in the resample) or undefined (fewer than two draws).
A resample may hold at most 2**20 draws, which keeps the integer arithmetic exact. Bad arguments raise a
`HarnessError` (a `ValueError`) naming them.
"""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError

_MAX_DRAWS = 2**20  # draws per resample, at most: keeps every sum below exact-arithmetic limits
_GEMM = 2**18  # multiply-adds per matrix product, at most: OpenBLAS's limit for running it single-threaded
_CHUNK = 2**19  # resamples x items per vectorised chunk: small working arrays, which the allocator reuses


def resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) int32 multiplicities of n_boot bootstrap resamples of n items.

    Row b counts n uniform draws with replacement (a multinomial draw), so every row sums to n. Deterministic
    for a given seed (`np.random.default_rng(seed)`).
    """
    if n < 1 or n_boot < 1:
        raise HarnessError(f"n and n_boot must be positive, got n={n}, n_boot={n_boot}")
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n), dtype=np.int32)
    out = np.empty((n_boot, n), dtype=np.int32)
    for rows in _chunks(n_boot, n):
        offsets = np.arange(rows.stop - rows.start, dtype=np.int32)[:, None] * n  # row r: bins [r n, r n + n)
        bins = draws[rows] + offsets
        out[rows] = np.bincount(bins.ravel(), minlength=bins.size).reshape(bins.shape)
    return out


def kendall_tau_b_weighted(x, y, weights) -> np.ndarray:
    """(B,) Kendall tau-b of every resample (scipy.stats.kendalltau, ties as scipy counts them).

    tau-b = (C - D) / sqrt((n0 - n1) (n0 - n2)) with n0 = N(N-1)/2 and n1 (n2) the pairs tied in x (y), where
    a tie group of total multiplicity W holds W(W-1)/2 pairs. C - D sums w_i w_j sign(x_i - x_j) sign(y_i - y_j)
    over pairs of distinct cells. The cells are cut into blocks of m consecutive cells in (x, y) order and,
    separately, in (y, x) order. Pairs in one x-block, or in one y-block, are summed as quadratic forms
    w^T S w with precomputed sign matrices (matrix products over all resamples at once). Every other pair lies
    in different x- and y-blocks, whose order gives its sign: a 2-D prefix sum over the grid of block weight
    totals counts them, less the pairs tied in x or y, which the grid counts as concordant.
    """
    x, y = _check_xy(x, y)
    w = _check_weights(weights, x.size)
    plan = _KendallPlan(x, y)
    out = np.empty(w.shape[0])
    for rows in _chunks(w.shape[0], x.size):
        out[rows] = plan.tau_b(w[rows])
    return out


def spearman_weighted(x, y, weights) -> np.ndarray:
    """(B,) Spearman rho of every resample (scipy.stats.spearmanr: Pearson r of average ranks).

    The resample's average rank of a tie group is (weight of strictly smaller values) + (W + 1)/2, W the
    group's weight. Integer arithmetic on doubled ranks gives the covariance exactly; the variance of average
    ranks is (N^3 - sum W^3) / (12 N) over tie groups.
    """
    x, y = _check_xy(x, y)
    w = _check_weights(weights, x.size)
    rx, ry = _TieGroups(x), _TieGroups(y)
    out = np.empty(w.shape[0])
    for rows in _chunks(w.shape[0], x.size):
        wc = w[rows].astype(np.int64)
        n_draws = wc.sum(axis=1)
        rank2_x, cube_x = rx.doubled_ranks(wc)
        rank2_y, cube_y = ry.doubled_ranks(wc)
        cross = np.einsum("bi,bi,bi->b", wc, rank2_x, rank2_y)  # 4 * sum w r_x r_y
        cov = 3 * (cross - n_draws * (n_draws + 1) ** 2)  # 12 N cov = 3 * 4 (sum w r_x r_y - N mean^2)
        var_x = n_draws**3 - cube_x  # 12 N var
        var_y = n_draws**3 - cube_y
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = cov / np.sqrt(var_x.astype(np.float64) * var_y)
        rho[(var_x == 0) | (var_y == 0)] = np.nan
        out[rows] = np.clip(rho, -1.0, 1.0)
    return out


def pearson_weighted(x, y, weights) -> np.ndarray:
    """(B,) Pearson r of every resample (scipy.stats.pearsonr), from two-pass weighted moments.

    A resample whose drawn x (or y) are all equal is NaN, as in scipy.
    """
    x, y = _check_xy(x, y)
    w = _check_weights(weights, x.size)
    spread_x, spread_y = _Spread(x), _Spread(y)
    out = np.empty(w.shape[0])
    for rows in _chunks(w.shape[0], x.size):
        wc = w[rows].astype(np.float64)
        n_draws = wc.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # einsum, not matmul: no threaded BLAS
            dx = x - (np.einsum("bi,i->b", wc, x) / n_draws)[:, None]
            dy = y - (np.einsum("bi,i->b", wc, y) / n_draws)[:, None]
            wdx = wc * dx
            sxx, sxy = np.einsum("bi,bi->b", wdx, dx), np.einsum("bi,bi->b", wdx, dy)
            r = sxy / np.sqrt(sxx * np.einsum("bi,bi,bi->b", wc, dy, dy))
        r[~(spread_x.varies(w[rows]) & spread_y.varies(w[rows]))] = np.nan
        out[rows] = np.clip(r, -1.0, 1.0)
    return out


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """x and y as 1-D finite float64 arrays of the same length >= 2, or a HarnessError naming the bad one."""
    out = []
    for name, arr in (("x", x), ("y", y)):
        a = np.asarray(arr, dtype=np.float64)
        if a.ndim != 1 or a.size < 2:
            raise HarnessError(f"{name} must be 1-D with at least 2 values, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise HarnessError(f"{name} must be finite (drop NaN and inf pairs first)")
        out.append(a)
    if out[0].shape != out[1].shape:
        raise HarnessError(f"x and y must have the same length, got shapes {out[0].shape} and {out[1].shape}")
    return out[0], out[1]


def _check_weights(weights, n: int) -> np.ndarray:
    """weights as a (B, n) non-negative integer array, or a HarnessError naming it."""
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] != n or w.shape[0] < 1:
        raise HarnessError(f"weights must have shape (n_boot, {n}) to match x and y, got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.integer):
        raise HarnessError(f"weights must be integer multiplicities, got dtype {w.dtype}")
    if (w < 0).any():
        raise HarnessError("weights must be non-negative multiplicities, got a negative value")
    if w.sum(axis=1, dtype=np.int64).max() > _MAX_DRAWS:  # int64 sums of non-negative weights: no overflow here
        raise HarnessError(f"weights must add up to at most {_MAX_DRAWS} draws per resample (exact arithmetic)")
    return w


def _chunks(n_rows: int, n: int):
    """Row slices covering n_rows resamples of n items, about _CHUNK values each."""
    step = max(1, _CHUNK // n)
    return (slice(s, min(s + step, n_rows)) for s in range(0, n_rows, step))


def _prefix(w_ordered: np.ndarray) -> np.ndarray:
    """(B, n + 1) int64 running totals with a leading 0: segment [s, e) sums to P[:, e] - P[:, s]."""
    p = np.zeros((w_ordered.shape[0], w_ordered.shape[1] + 1), dtype=np.int64)
    np.cumsum(w_ordered, axis=1, dtype=np.int64, out=p[:, 1:])
    return p


def _segments(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of equal key tuples along sorted keys."""
    change = np.zeros(keys[0].size, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    return starts, np.append(starts[1:], keys[0].size)


def _sum_sq(prefix: np.ndarray, segments: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(B,) sum over the segments of (segment weight)^2."""
    starts, ends = segments
    return np.square(prefix[:, ends] - prefix[:, starts]).sum(axis=1)


class _Spread:
    """Whether a variable takes more than one value among the drawn items of a resample."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        self.sorted = values[self.order]

    def varies(self, w: np.ndarray) -> np.ndarray:
        """(B,) smallest drawn value < largest drawn value (False for fewer than two draws)."""
        drawn = np.take(w, self.order, axis=1) > 0
        low = np.argmax(drawn, axis=1)
        high = drawn.shape[1] - 1 - np.argmax(drawn[:, ::-1], axis=1)
        return drawn.any(axis=1) & (self.sorted[low] < self.sorted[high])


class _TieGroups:
    """Tie groups of one variable, for average ranks of weighted resamples."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        self.segments = _segments(values[self.order])
        self.group = np.empty(values.size, dtype=np.intp)  # each item's tie group
        starts, ends = self.segments
        self.group[self.order] = np.repeat(np.arange(starts.size), ends - starts)

    def doubled_ranks(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, n) twice the average rank of each item in each resample, and (B,) sum of cubed group weights."""
        starts, ends = self.segments
        p = _prefix(np.take(w, self.order, axis=1))
        below, size = p[:, starts], p[:, ends] - p[:, starts]
        return np.take(2 * below + size + 1, self.group, axis=1), np.einsum("bi,bi,bi->b", size, size, size)


class _KendallPlan:
    """Everything about (x, y) that Kendall's tau-b of a resample needs besides its weights."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        n = x.size
        items = np.arange(n)
        m = _block_size(n)
        self.k = -(-n // m)
        self.by_x = np.lexsort((items, y, x))  # ties broken by y, then by item, as in by_y
        self.by_y = np.lexsort((items, x, y))
        block_x = np.empty(n, dtype=np.intp)
        block_x[self.by_x] = items // m
        block_y = np.empty(n, dtype=np.intp)
        block_y[self.by_y] = items // m
        self.signs_x = _block_signs(self.by_x, x, y, m)
        self.signs_y = _block_signs(self.by_y, x, y, m, exclude_same=block_x)
        cell = block_x * self.k + block_y
        self.by_cell = np.argsort(cell, kind="stable")
        self.cell_segments = _segments(cell[self.by_cell])
        self.cells = cell[self.by_cell][self.cell_segments[0]]
        self.ties_x = _tie_groups(x[self.by_x], self.k * m)
        self.ties_y = _tie_groups(y[self.by_y], self.k * m)
        # Pairs tied in x (or y) in different x- and y-blocks, which the grid counts as concordant (both orders
        # break ties alike, so they agree on such a pair); joint ties are in both lists and are added back once.
        # Entries: (sign, 0 for segments along by_x or 1 along by_y, segments).
        in_x = (block_x[self.by_x], block_y[self.by_x])
        self.grid_ties = [
            (1, 0, _straddling([x[self.by_x]], *in_x)),
            (1, 1, _straddling([y[self.by_y]], block_x[self.by_y], block_y[self.by_y])),
            (-1, 0, _straddling([x[self.by_x], y[self.by_x]], *in_x)),
        ]

    def tau_b(self, w: np.ndarray) -> np.ndarray:
        """(B,) tau-b of the resamples in w (B, n)."""
        n, k = w.shape[1], self.k
        wx, wy = np.take(w, self.by_x, axis=1), np.take(w, self.by_y, axis=1)
        fx, fy = _padded(wx, self.signs_x), _padded(wy, self.signs_y)
        num = _block_forms(fx, self.signs_x) + _block_forms(fy, self.signs_y)
        cell_w = _prefix(np.take(w, self.by_cell, axis=1))
        grid = np.zeros((w.shape[0], k * k), dtype=np.int32)  # int32: |values| <= 2 * _MAX_DRAWS
        grid[:, self.cells] = cell_w[:, self.cell_segments[1]] - cell_w[:, self.cell_segments[0]]
        grid = grid.reshape(-1, k, k)  # [resample, x-block, y-block]
        before = np.cumsum(grid, axis=1, dtype=np.int32) - grid  # weight in earlier x-blocks, per y-block
        below = np.cumsum(before, axis=2, dtype=np.int32)  # ... summed over y-blocks up to this one
        lower_minus_higher = 2 * below - before - below[:, :, -1:]
        num += np.einsum("bij,bij->b", grid, lower_minus_higher, dtype=np.int64)
        prefixes = (_prefix(wx), _prefix(wy))
        for sign, along, parts in self.grid_ties:
            if parts:
                q = [_sum_sq(prefixes[along], seg) for seg in parts]
                num -= sign * (q[0] - q[1] - q[2] + q[3]) // 2
        n_draws = prefixes[0][:, n]
        n0 = n_draws * (n_draws - 1) / 2
        copies = (np.einsum("bi,bi->b", fx, fx, dtype=np.float64) - n_draws) / 2  # copies of one cell: tied
        n1 = copies + _distinct_tied_pairs(prefixes[0], fx, *self.ties_x)
        n2 = copies + _distinct_tied_pairs(prefixes[1], fy, *self.ties_y)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = num / np.sqrt(n0 - n1) / np.sqrt(n0 - n2)
        tau[(n1 == n0) | (n2 == n0)] = np.nan  # constant x or y, or fewer than two draws
        return np.clip(tau, -1.0, 1.0)


def _tie_groups(sorted_values: np.ndarray, padded: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Segments of the tie groups of more than one item, and a (padded,) 0/1 float mask of their items."""
    starts, ends = _segments(sorted_values)
    multi = ends - starts > 1
    members = np.zeros(padded, dtype=np.float32)
    members[: sorted_values.size] = np.repeat(multi, ends - starts)
    return (starts[multi], ends[multi]), members


def _distinct_tied_pairs(prefix: np.ndarray, f: np.ndarray, segments, members: np.ndarray) -> np.ndarray:
    """(B,) weight of the pairs of distinct items in one tie group: (sum W_g^2 - sum w_i^2) / 2 over groups."""
    if segments[0].size == 0:
        return np.zeros(f.shape[0])
    return (_sum_sq(prefix, segments) - np.einsum("bi,bi,i->b", f, f, members, dtype=np.float64)) / 2


def _block_size(n: int) -> int:
    """Items per block, m: balances the in-block work (~n m per resample) against the grid's (~(n/m)^2)."""
    return min(n, 16 * max(1, round(4.5 * n ** (1 / 3) / 16)))


def _block_signs(order: np.ndarray, x: np.ndarray, y: np.ndarray, m: int, exclude_same=None) -> np.ndarray:
    """(k, m, m) sign(x_i - x_j) sign(y_i - y_j) for i before j in each block of m items along order.

    Blocks are padded with zero rows and columns to k*m items; pairs with equal `exclude_same` labels are 0.
    """
    k = -(-order.size // m)
    pos = np.zeros(k * m, dtype=np.intp)
    pos[: order.size] = order
    real = (np.arange(k * m) < order.size).reshape(k, m)
    xb, yb = x[pos].reshape(k, m), y[pos].reshape(k, m)
    keep = np.triu(np.ones((m, m), dtype=bool), 1) & real[:, :, None] & real[:, None, :]
    if exclude_same is not None:
        lb = exclude_same[pos].reshape(k, m)
        keep &= lb[:, :, None] != lb[:, None, :]
    signs = np.sign(xb[:, :, None] - xb[:, None, :]) * np.sign(yb[:, :, None] - yb[:, None, :])
    return np.where(keep, signs, 0.0).astype(np.float32)


def _padded(w_ordered: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """(B, k*m) float32 weights (exact: at most _MAX_DRAWS < 2^24), zero-padded to whole blocks."""
    k, m, _ = signs.shape
    f = np.zeros((w_ordered.shape[0], k * m), dtype=np.float32)
    f[:, : w_ordered.shape[1]] = w_ordered
    return f


def _block_forms(f: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """(B,) sum over blocks of w^T S w, exactly.

    w S is exact in float32 (integers of at most _MAX_DRAWS < 2^24); w . (w S) is summed in float64. The
    products are cut to _GEMM multiply-adds each, which OpenBLAS runs on one thread: threaded BLAS on a
    machine whose cores are busy can be a hundred times slower.
    """
    k, m, _ = signs.shape
    blocks = f.reshape(-1, k, m).transpose(1, 0, 2)  # [block, resample, item]
    step = max(1, _GEMM // (m * m))
    parts = (blocks[:, s : s + step] for s in range(0, blocks.shape[1], step))
    return np.concatenate([np.einsum("kbm,kbm->b", np.matmul(p, signs), p, dtype=np.float64) for p in parts])


def _straddling(keys: list[np.ndarray], block_x: np.ndarray, block_y: np.ndarray) -> list:
    """Segments along sorted keys of the tie groups spanning several x-blocks and several y-blocks.

    Four partitions of them: whole groups, split by x-block, by y-block, and by both ([] if no such group).
    Their sums of (segment weight)^2, with signs (+, -, -, +), are twice the weight of the tied pairs in
    different x- and y-blocks. Each split is contiguous: both block indices rise along a tie group.
    """
    starts, ends = _segments(*keys)
    spans = (
        (np.maximum.reduceat(block_x, starts) > np.minimum.reduceat(block_x, starts))
        & (np.maximum.reduceat(block_y, starts) > np.minimum.reduceat(block_y, starts))
    )
    keep = np.repeat(spans, ends - starts)
    if not keep.any():
        return []
    pos = np.flatnonzero(keep)
    sub = [key[keep] for key in keys]
    parts = []
    for extra in ((), (block_x[keep],), (block_y[keep],), (block_x[keep], block_y[keep])):
        s, e = _segments(*sub, *extra)
        parts.append((pos[s], pos[e - 1] + 1))
    return parts
