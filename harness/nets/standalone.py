"""The benchmark's standalone network for one cell (NB201's `TinyNetwork` with `InferCell`s)."""
from __future__ import annotations

from torch import nn

from harness.nets.cells import as_cell, plan_of, run_plan
from harness.nets.macro import MacroNetwork
from harness.nets.ops import MODULE_OPS, make_op
from harness.space.ops import EDGE_NAMES


class InferCell(nn.Module):
    """One cell: a module for every conv or pool edge, dead ones included (they count in the benchmark's params),
    but only the edges in the plan run."""

    def __init__(self, cell: tuple[int, ...], C: int, affine: bool, track_running_stats: bool):
        super().__init__()
        self.cell = cell
        self.plan = plan_of(cell)
        self.edges = nn.ModuleDict({EDGE_NAMES[e]: make_op(op, C, affine, track_running_stats)
                                    for e, op in enumerate(cell) if op in MODULE_OPS})

    def forward(self, x):
        return run_plan(x, self.plan, lambda edge, op: self.edges[EDGE_NAMES[edge]])


class TinyNetwork(MacroNetwork):
    """The standalone network of `cell` (6 op ids): parameter-for-parameter the benchmark's.

    Cell BNs take `affine`/`track_running_stats`; the stem, reduction and head BNs are always affine.
    """

    def __init__(self, cell, C: int = 16, N: int = 5, num_classes: int = 10, affine: bool = True,
                 track_running_stats: bool = True):
        cell = as_cell(cell)
        super().__init__(C, N, num_classes, lambda c: InferCell(cell, c, affine, track_running_stats))
        self.cell = cell
        self.affine, self.track_running_stats = affine, track_running_stats

    def forward(self, x):
        return self.run(x, lambda block, h: block(h))
