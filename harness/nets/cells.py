"""Cells: validating a cell, its execution plan (what can affect the output), and running it.

A plan lists, for each node that is both reachable from the input through non-`none` edges and able to reach
the output, the edges into it that carry a value. Everything else is zero or unused, so it is never computed:
a `none` edge adds nothing, and a node with no live input is absent, as in the benchmark's isomorphism rule.

One difference from the benchmark's `InferCell`, which runs every edge: a conv edge leaving an all-zero node
adds its BN's constant shift there (beta - gamma * running_mean / sigma; beta in train mode). That is zero at
initialisation and without affine BN in train mode, and a small per-channel constant otherwise; we drop it.
"""
from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from harness.errors import ArchStringError
from harness.space.ops import AVGPOOL, EDGES, NONE, NUM_EDGES, NUM_NODES, NUM_OPS, OPS, SKIP

OUTPUT = NUM_NODES - 1


def as_cell(cell) -> tuple[int, ...]:
    """`cell` (sequence, numpy array or tensor of 6 op ids in edge order) as a tuple of ints, or `ArchStringError`."""
    values = cell.detach().cpu().numpy() if isinstance(cell, torch.Tensor) else cell
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        arr = None
    if (arr is None or arr.shape != (NUM_EDGES,) or not np.issubdtype(arr.dtype, np.integer)
            or arr.min() < 0 or arr.max() >= NUM_OPS):
        raise ArchStringError(
            f"cell {cell!r} is not an NB201 cell: expected {NUM_EDGES} integer op ids in 0..{NUM_OPS - 1} "
            f"({', '.join(f'{i} {name}' for i, name in enumerate(OPS))}) in edge order 1<-0, 2<-0, 2<-1, 3<-0, "
            f"3<-1, 3<-2; convert an arch string with harness.space.parse_arch")
    return tuple(int(v) for v in arr)


class Term(NamedTuple):
    edge: int
    op: int
    src: int


class Plan(NamedTuple):
    """`nodes`: (node, terms into it) in topological order; `output_is_zero`: no live path reaches the output."""
    nodes: tuple[tuple[int, tuple[Term, ...]], ...]
    output_is_zero: bool


@cache
def plan_of(cell: tuple[int, ...]) -> Plan:
    """The execution plan of a validated cell (`as_cell`), computed once per distinct cell and cached."""
    live = [True] + [False] * (NUM_NODES - 1)  # carries a value: fed by a live node through a non-`none` edge
    for e, (to, src) in enumerate(EDGES):
        live[to] |= live[src] and cell[e] != NONE
    useful = [False] * (NUM_NODES - 1) + [True]  # reaches the output through non-`none` edges
    for e, (to, src) in reversed(list(enumerate(EDGES))):
        useful[src] |= useful[to] and cell[e] != NONE
    nodes = tuple(
        (node, tuple(Term(e, cell[e], src) for e, (to, src) in enumerate(EDGES)
                     if to == node and cell[e] != NONE and live[src]))
        for node in range(1, NUM_NODES) if live[node] and useful[node])
    return Plan(nodes, not live[OUTPUT])


def run_plan(x: torch.Tensor, plan: Plan, module_of) -> torch.Tensor:
    """The cell output for input `x`; `module_of(edge, op)` gives the conv or pool module of a term.

    A node that feeds several convs is passed through ReLU once.
    """
    if plan.output_is_zero:
        return torch.zeros_like(x)
    nodes: list = [x, None, None, None]
    relus: list = [None] * NUM_NODES
    for node, terms in plan.nodes:
        total = None
        for edge, op, src in terms:
            h = nodes[src]
            if op == SKIP:
                out = h
            elif op == AVGPOOL:
                out = module_of(edge, op)(h)
            else:
                if relus[src] is None:
                    relus[src] = h.relu()
                m = module_of(edge, op)
                out = m.bn(m.conv(relus[src]))
            total = out if total is None else total + out
        nodes[node] = total
    return nodes[OUTPUT]
