"""Isomorphism classes: cells that compute the same function, 15,625 cells in 6,466 classes.

The rule is the one that defines the benchmark's 6,466 (NATS-Bench's `to_unique_str(consider_zero=True)`):
each node is written as an expression of the cell input `x`, and a cell's canonical form is its output
node's expression.

- Dead edges: a `none` edge contributes the zero term `#`, and so does any edge leaving node 1 when node 1
  is zero (edge 1<-0 is `none`). Only the output's expression counts, so edges that cannot reach the output,
  and nodes that only feed such edges, do not change the class.
- `skip_connect` passes its input's expression through unchanged (`conv(skip(x))` is `conv(x)`); any other
  op wraps it, `op(expr)`.
- A node is the sum of its incoming terms written in sorted order, so the order of a node's inputs does not
  matter.
- Node permutations: zero terms stay in the string, and node 2 always has two inputs, so swapping nodes 1
  and 2 (node 1 = conv(x), node 2 = pool(x) against the reverse) gives two classes although the function is
  the same. Likewise a node 2 whose inputs are all zero is not propagated as zero. Both are the benchmark's
  rule, kept so that the classes are the 6,466 that papers report.

Class ids are 0..6465, numbered in increasing product-order code of each class's first member,
so they do not depend on any benchmark file.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from harness.space.arch_strings import validate_cells
from harness.space.ops import EDGES, NONE, NUM_NODES, OPS, SKIP, all_cells, decode, encode

ZERO = "#"


def canonical_form(ops) -> str:
    """The canonical expression of one cell (6 op ids); equal strings mean isomorphic cells."""
    nodes = ["x"]
    for node in range(1, NUM_NODES):
        terms = []
        for e, (to, src) in enumerate(EDGES):
            if to != node:
                continue
            op, expr = int(ops[e]), nodes[src]
            if op == NONE or expr == ZERO:
                terms.append(ZERO)
            elif op == SKIP:
                terms.append(expr)
            else:
                terms.append(f"({expr})@{OPS[op]}")
        nodes.append("+".join(sorted(terms)))
    return nodes[-1]


@cache
def _classes_by_code() -> tuple[np.ndarray, np.ndarray]:
    forms = [canonical_form(c) for c in all_cells()]
    ids: dict[str, int] = {}
    class_of_code = np.array([ids.setdefault(f, len(ids)) for f in forms], dtype=np.int32)
    first_code = np.full(len(ids), -1, dtype=np.int64)
    for code in range(len(class_of_code) - 1, -1, -1):
        first_code[class_of_code[code]] = code
    class_of_code.setflags(write=False)
    first_code.setflags(write=False)
    return class_of_code, first_code


def num_classes() -> int:
    return len(_classes_by_code()[1])


def class_ids(cells) -> np.ndarray:
    """Isomorphism class id (0..6465) of each cell of an (n, 6) array."""
    return _classes_by_code()[0][encode(validate_cells(cells))]


def class_representatives() -> np.ndarray:
    """(6466, 6) cells: the first member (in product order) of each class, indexed by class id."""
    return decode(_classes_by_code()[1])
