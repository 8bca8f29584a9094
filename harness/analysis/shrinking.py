"""One step of operator-level search-space shrinking (ABS, Algorithm 2): drop the lowest-scoring operators.

A space is a (6, 5) bool mask of the ops each edge allows; operator scores are a (6, 5) float array, higher is
better (e.g. `harness.space.operator_means` of a proxy's scores over cells inside the space). The rule: drop the
`n_drop` allowed operators with the lowest scores, lowest first, never the last op of an edge. An allowed op with
a NaN score (no scored cell held it) is kept: there is no evidence against it.
"""
from __future__ import annotations

import numpy as np

from harness.analysis.shrunk_space import allowed_ops_mask
from harness.errors import HarnessError
from harness.space import EDGE_NAMES, NUM_EDGES, NUM_OPS, OPS


def drop_lowest(mask, op_scores, n_drop: int) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The shrunk mask and the dropped (edge, op) names in the order they were dropped (lowest score first);
    ties go to the earlier edge, then the earlier op. Fewer than `n_drop` are dropped when every edge is down to
    ops it cannot lose."""
    mask = allowed_ops_mask(np.asarray(mask, dtype=bool))
    scores = np.asarray(op_scores, dtype=np.float64)
    if scores.shape != (NUM_EDGES, NUM_OPS):
        raise HarnessError(f"operator scores must be a ({NUM_EDGES}, {NUM_OPS}) array (edges x ops), got shape "
                           f"{scores.shape}")
    if isinstance(n_drop, bool) or not isinstance(n_drop, (int, np.integer)) or n_drop < 0:
        raise HarnessError(f"n_drop={n_drop!r}: expected how many operators to drop, an integer >= 0")
    shrunk, dropped = mask.copy(), []
    candidates = np.flatnonzero(mask.ravel() & np.isfinite(scores.ravel()))
    for flat in candidates[np.argsort(scores.ravel()[candidates], kind="stable")]:
        if len(dropped) == n_drop:
            break
        edge, op = divmod(int(flat), NUM_OPS)
        if shrunk[edge].sum() > 1:
            shrunk[edge, op] = False
            dropped.append((EDGE_NAMES[edge], OPS[op]))
    return shrunk, dropped


def space_size(mask) -> int:
    """Number of cells the mask allows: the product of each edge's allowed op count."""
    return int(np.prod(allowed_ops_mask(np.asarray(mask, dtype=bool)).sum(axis=1)))
