"""The benchmark's standalone network for one cell (NB201's `TinyNetwork` with `InferCell`s).

`dead_edges`: `skip` runs only the edges that can change the output (the cell's plan: the same output, less work);
`compute` runs every edge but `none`, as NB201's `InferCell` does, so that a conv edge that cannot reach the output,
or that reads a node no input reaches (all zeros), still runs: the output is the same, but what such convs see and
produce is there to be observed (NASWOT's binary codes read every ReLU's input).
"""
from __future__ import annotations

import torch
from torch import nn

from harness.errors import HarnessError
from harness.nets.cells import as_cell, plan_of, run_plan
from harness.nets.macro import MacroNetwork
from harness.nets.ops import MODULE_OPS, make_op
from harness.space.ops import EDGE_NAMES, EDGES, NONE, NUM_NODES, SKIP

DEAD_EDGES = ("skip", "compute")


class InferCell(nn.Module):
    """One cell: a module for every conv or pool edge, dead ones included (they count in the benchmark's params);
    with `dead_edges` skip only the edges in the plan run, with compute all of them."""

    def __init__(self, cell: tuple[int, ...], C: int, affine: bool, track_running_stats: bool,
                 dead_edges: str = "skip"):
        super().__init__()
        self.cell = cell
        self.plan = plan_of(cell)
        self.dead_edges = dead_edges
        self.edges = nn.ModuleDict({EDGE_NAMES[e]: make_op(op, C, affine, track_running_stats)
                                    for e, op in enumerate(cell) if op in MODULE_OPS})

    def forward(self, x):
        if self.dead_edges == "skip":
            return run_plan(x, self.plan, lambda edge, op: self.edges[EDGE_NAMES[edge]])
        nodes = [x]
        for node in range(1, NUM_NODES):  # NB201's InferCell: every node sums its edges' ops; `none` adds zeros
            total = torch.zeros_like(x)
            for e, (to, src) in enumerate(EDGES):
                if to == node and self.cell[e] != NONE:
                    h = nodes[src]
                    total = total + (h if self.cell[e] == SKIP else self.edges[EDGE_NAMES[e]](h))
            nodes.append(total)
        return nodes[-1]


class TinyNetwork(MacroNetwork):
    """The standalone network of `cell` (6 op ids): parameter-for-parameter the benchmark's.

    Cell BNs take `affine`/`track_running_stats`; the stem, reduction and head BNs are always affine.
    """

    def __init__(self, cell, C: int = 16, N: int = 5, num_classes: int = 10, affine: bool = True,
                 track_running_stats: bool = True, dead_edges: str = "skip"):
        cell = as_cell(cell)
        if dead_edges not in DEAD_EDGES:
            raise HarnessError(f"dead_edges={dead_edges!r}: expected one of {', '.join(DEAD_EDGES)}")
        super().__init__(C, N, num_classes, lambda c: InferCell(cell, c, affine, track_running_stats, dead_edges))
        self.cell = cell
        self.affine, self.track_running_stats = affine, track_running_stats

    def forward(self, x):
        return self.run(x, lambda block, h: block(h))
