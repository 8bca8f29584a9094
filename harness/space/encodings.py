"""The same cell in the encodings other tools use: one-hot, labelled adjacency, NASLib op indices, ConfigSpace names."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from harness.errors import ArchStringError
from harness.space.arch_strings import validate_cells
from harness.space.ops import EDGE_NAMES, EDGES, NUM_EDGES, NUM_NODES, NUM_OPS, OPS


def to_onehot(cells) -> np.ndarray:
    """(n, 6, 5) uint8: entry [k, e, o] is 1 when cell k has op o on edge e."""
    cells = validate_cells(cells)
    return (cells[:, :, None] == np.arange(NUM_OPS)).astype(np.uint8)


def from_onehot(onehot) -> np.ndarray:
    arr = np.asarray(onehot)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_EDGES, NUM_OPS):
        raise ArchStringError(f"one-hot cells must have shape (n, {NUM_EDGES}, {NUM_OPS}), got {arr.shape}")
    ok = ((arr == 0) | (arr == 1)).all(axis=(1, 2)) & (arr.sum(axis=2) == 1).all(axis=1)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise ArchStringError(f"one-hot row {row} must hold exactly one 1 per edge, got {arr[row].tolist()}")
    return arr.argmax(axis=2).astype(np.int8)


def to_adjacency(cells) -> np.ndarray:
    """(n, 4, 4) int8 labelled adjacency: entry [k, j, i] is the op id on edge j<-i (0, `none`, also means no edge).

    The convention of the benchmark's own `str2matrix`: only the strict lower triangle is used.
    """
    cells = validate_cells(cells)
    adj = np.zeros((len(cells), NUM_NODES, NUM_NODES), dtype=np.int8)
    for e, (to, src) in enumerate(EDGES):
        adj[:, to, src] = cells[:, e]
    return adj


def from_adjacency(adjacency) -> np.ndarray:
    arr = np.asarray(adjacency)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_NODES, NUM_NODES):
        raise ArchStringError(f"adjacency must have shape (n, {NUM_NODES}, {NUM_NODES}), got {arr.shape}")
    upper = np.triu(np.ones((NUM_NODES, NUM_NODES), dtype=bool))
    bad = (arr[:, upper] != 0).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ArchStringError(f"adjacency row {row} has entries on or above the diagonal; only [j, i] with j > i "
                              f"(edge j<-i) may be set: {arr[row].tolist()}")
    return validate_cells(np.stack([arr[:, to, src] for to, src in EDGES], axis=1))


#: NASLib's op names and edge list (1-based nodes), as in its nasbench201 conversions.
NASLIB_OPS = ("Identity", "Zero", "ReLUConvBN3x3", "ReLUConvBN1x1", "AvgPool1x1")
NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
_TO_NASLIB_OP = np.array([1, 0, 3, 2, 4], dtype=np.int8)  # ours -> NASLib, indexed by our op id
_FROM_NASLIB_OP = np.argsort(_TO_NASLIB_OP).astype(np.int8)
#: NASLib edge k is our edge _NASLIB_EDGE_ORDER[k].
_NASLIB_EDGE_ORDER = np.array([EDGES.index((v - 1, u - 1)) for u, v in NASLIB_EDGES])


def to_naslib(cells) -> np.ndarray:
    """(n, 6) NASLib `op_indices`: NASLib's op order on NASLib's edge order."""
    return _TO_NASLIB_OP[validate_cells(cells)[:, _NASLIB_EDGE_ORDER]]


def from_naslib(op_indices) -> np.ndarray:
    arr = validate_cells(op_indices)
    out = np.empty_like(arr)
    out[:, _NASLIB_EDGE_ORDER] = _FROM_NASLIB_OP[arr]
    return out


def to_configspace(cell) -> dict[str, str]:
    """One cell as HPOBench/ConfigSpace hyperparameters: {'1<-0': op name, ..., '3<-2': op name}."""
    ops = validate_cells(np.asarray(cell).reshape(1, -1))[0]
    return {name: OPS[op] for name, op in zip(EDGE_NAMES, ops)}


def from_configspace(config: Mapping[str, str]) -> np.ndarray:
    """The 6 op ids of a ConfigSpace configuration keyed by edge name ('1<-0' ... '3<-2')."""
    keys = set(config)
    if keys != set(EDGE_NAMES):
        raise ArchStringError(f"a configuration needs exactly the edges {list(EDGE_NAMES)}; "
                              f"missing {sorted(set(EDGE_NAMES) - keys)}, unexpected {sorted(keys - set(EDGE_NAMES))}")
    ops = []
    for name in EDGE_NAMES:
        value = config[name]
        if value not in OPS:
            raise ArchStringError(f"edge {name} has op {value!r}; valid ops: {', '.join(OPS)}")
        ops.append(OPS.index(value))
    return np.array(ops, dtype=np.int8)


def operator_means(cells, values) -> np.ndarray:
    """(6, 5) mean of `values` over the cells holding op o on edge e, ignoring NaN values.

    With ground-truth accuracy as `values` this is the benchmark's operator score (ABS); an entry
    is NaN when no cell with a finite value holds that op on that edge.
    """
    cells = validate_cells(cells)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(cells),):
        raise ArchStringError(f"values must have one entry per cell ({len(cells)}), got shape {values.shape}")
    finite = np.isfinite(values)
    onehot = to_onehot(cells[finite]).astype(np.float64)
    counts = onehot.sum(axis=0)
    sums = np.einsum("keo,k->eo", onehot, values[finite])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
