"""The weight-sharing supernet: every edge of every cell holds all five ops (NB201's search cells).

Two modes. `spos` runs one sampled cell per forward (single path, uniform sampling as in SPOS/ABS), following
the same execution plan as the standalone network, so dead edges and `none` cost nothing. `darts` runs every op
of every edge, mixed by softmax(arch_parameters) per edge; one (6, 5) set of architecture parameters is shared
by all cells, because NB201 repeats one cell topology.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.errors import ArchStringError, HarnessError
from harness.nets.cells import as_cell, plan_of, run_plan
from harness.nets.macro import MacroNetwork
from harness.nets.ops import MODULE_OPS, make_op
from harness.nets.standalone import InferCell, TinyNetwork
from harness.space.ops import AVGPOOL, CONV1X1, CONV3X3, EDGE_NAMES, EDGES, NUM_EDGES, NUM_NODES, NUM_OPS, OPS, SKIP

MODES = ("spos", "darts")


class SearchCell(nn.Module):
    """A cell whose every edge holds the conv and pool ops (`none` and `skip_connect` need no module)."""

    def __init__(self, C: int, affine: bool, track_running_stats: bool):
        super().__init__()
        self.edges = nn.ModuleDict({
            name: nn.ModuleDict({OPS[op]: make_op(op, C, affine, track_running_stats) for op in MODULE_OPS})
            for name in EDGE_NAMES})

    def single_path(self, x, plan):
        return run_plan(x, plan, lambda edge, op: self.edges[EDGE_NAMES[edge]][OPS[op]])

    def mixture(self, x, weights):
        """Every node is the sum over its edges of the softmax-weighted ops (`none` adds weight x 0, skipped)."""
        nodes, relus = [x], [x.relu()]
        for node in range(1, NUM_NODES):
            total = None
            for e, (to, src) in enumerate(EDGES):
                if to != node:
                    continue
                h, r, w, ops = nodes[src], relus[src], weights[e], self.edges[EDGE_NAMES[e]]
                conv1, conv3 = ops[OPS[CONV1X1]], ops[OPS[CONV3X3]]
                out = (w[SKIP] * h + w[CONV1X1] * conv1.bn(conv1.conv(r)) + w[CONV3X3] * conv3.bn(conv3.conv(r))
                       + w[AVGPOOL] * ops[OPS[AVGPOOL]](h))
                total = out if total is None else total + out
            nodes.append(total)
            relus.append(total.relu() if node < NUM_NODES - 1 else None)
        return nodes[-1]


class Supernet(MacroNetwork):
    """NB201 supernet; cell BNs default to ABS's setting (no affine parameters, running statistics kept)."""

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, affine: bool = False,
                 track_running_stats: bool = True, mode: str = "spos"):
        if mode not in MODES:
            raise HarnessError(f"Supernet mode must be one of {MODES}, got {mode!r}")
        super().__init__(C, N, num_classes, lambda c: SearchCell(c, affine, track_running_stats))
        self.affine, self.track_running_stats, self.mode = affine, track_running_stats, mode
        if mode == "darts":
            self.arch_parameters = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, NUM_OPS))
            self.register_buffer("allowed_ops", torch.ones(NUM_EDGES, NUM_OPS, dtype=torch.bool), persistent=False)
        else:
            self.register_parameter("arch_parameters", None)

    @property
    def n_search_cells(self) -> int:
        return 3 * self.N

    def forward(self, x, cell=None):
        """Logits of the child `cell` (spos, required) or of the softmax mixture (darts, `cell` must be None).
        `cell` is 6 op ids for one child in every searchable cell, or (3N, 6): a child per searchable cell, in
        order (NB201's uniform random sampling trains so)."""
        if self.mode == "spos":
            if cell is None:
                raise HarnessError("Supernet in 'spos' mode runs one child per forward: pass cell=6 op ids, "
                                   "e.g. forward(x, cell=[3, 3, 4, 0, 3, 4]); or build it with mode='darts'")
            if np.ndim(cell) == 2:
                if len(cell) != self.n_search_cells:
                    raise ArchStringError(f"cell {cell!r} is not an NB201 cell: expected 6 integer op ids in 0..4, "
                                          f"or {self.n_search_cells} rows of them (a child per searchable cell)")
                plans = iter([plan_of(as_cell(c)) for c in cell])  # the blocks run in order
                return self.run(x, lambda block, h: block.single_path(h, next(plans)))
            plan = plan_of(as_cell(cell))
            return self.run(x, lambda block, h: block.single_path(h, plan))
        if cell is not None:
            raise HarnessError(f"Supernet in 'darts' mode mixes all ops by its arch_parameters and takes no cell, "
                               f"got cell={cell!r}; call forward(x), or evaluate a child with standalone(cell)")
        weights = self.op_weights()
        return self.run(x, lambda block, h: block.mixture(h, weights))

    def op_weights(self) -> torch.Tensor:
        """(6, 5) mixture weights of a darts supernet: softmax of the architecture parameters over each edge's
        allowed ops (0 for the others)."""
        return torch.softmax(self.arch_parameters.masked_fill(~self.allowed_ops, float("-inf")), dim=-1)

    def restrict(self, mask) -> None:
        """Train a darts supernet inside a sub-space: ops outside the (6, 5) bool mask get no weight."""
        if self.mode != "darts":
            raise HarnessError("restrict() applies to a darts supernet; a spos supernet samples its sub-space")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (NUM_EDGES, NUM_OPS) or not mask.any(axis=1).all():
            raise HarnessError(f"restrict() takes a ({NUM_EDGES}, {NUM_OPS}) bool mask with an allowed op on every "
                               f"edge, got shape {mask.shape}")
        self.allowed_ops.copy_(torch.from_numpy(mask))

    def weight_parameters(self) -> list[nn.Parameter]:
        """All parameters but the architecture parameters (the two get separate optimisers in DARTS)."""
        return [p for p in self.parameters() if p is not self.arch_parameters]

    def standalone(self, cell) -> TinyNetwork:
        """A standalone network for `cell` holding a copy of this supernet's weights and BN statistics on its path.

        Same device, dtype, cell BN settings and train/eval mode, so its forward equals `self(x, cell)`.
        """
        cell = as_cell(cell)
        net = TinyNetwork(cell, self.C, self.N, self.num_classes, self.affine, self.track_running_stats)
        reference = self.stem[0].weight
        net.to(device=reference.device, dtype=reference.dtype)
        for name in ("stem", "lastact", "classifier"):
            getattr(net, name).load_state_dict(getattr(self, name).state_dict())
        for mine, shared in zip(net.cells, self.cells):
            if isinstance(mine, InferCell):
                for e, op in enumerate(cell):
                    if op in MODULE_OPS:
                        mine.edges[EDGE_NAMES[e]].load_state_dict(shared.edges[EDGE_NAMES[e]][OPS[op]].state_dict())
            else:
                mine.load_state_dict(shared.state_dict())
        return net.train(self.training)
