"""The NB201 cell: 4 nodes, 6 edges, 5 operations, in the benchmark's own order."""
from __future__ import annotations

import numpy as np

#: Operation names; a cell's op ids index this tuple (the benchmark's order).
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE, SKIP, CONV1X1, CONV3X3, AVGPOOL = range(5)
NUM_OPS = len(OPS)

#: Edges as (to, from) node pairs, in the order of the arch string: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_NODES = 4
#: Edge names as HPOBench/ConfigSpace spell them.
EDGE_NAMES = tuple(f"{to}<-{src}" for to, src in EDGES)

NUM_CELLS = NUM_OPS**NUM_EDGES  # 15,625

_PLACE = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)  # edge 0 is the most significant digit


def all_cells() -> np.ndarray:
    """All 15,625 cells as a (15625, 6) int8 array in product order (`itertools.product`), not index order.

    The benchmark's official indices follow a different order; `IndexOrder` maps between the two.
    """
    codes = np.arange(NUM_CELLS)
    return decode(codes)


def encode(cells: np.ndarray) -> np.ndarray:
    """Product-order code (0..15624) of each cell of an (n, 6) op-id array."""
    return np.asarray(cells, dtype=np.int64) @ _PLACE


def decode(codes: np.ndarray) -> np.ndarray:
    """Cells (n, 6) of product-order codes."""
    codes = np.asarray(codes, dtype=np.int64)
    return ((codes[..., None] // _PLACE) % NUM_OPS).astype(np.int8)
