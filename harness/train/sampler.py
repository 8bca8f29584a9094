"""Sampling the children a supernet trains, over the whole space or a sub-space, with a state that resumes exactly.

Two rules. `spos`: one child per step, uniform over the space, shared by every searchable cell of the network.
`urs`: NB201's uniform random sampling (`forward_urs` of its search cell, as ABS's released code trains its NB201
supernet): every searchable cell draws its own ops in every forward pass, node by node, each edge uniformly among its
allowed ops, and redraws a node whose inputs all came out `none`; so the cells of one step generally differ, and no
node is cut off from all of its inputs.
"""
from __future__ import annotations

import numpy as np

from harness.analysis.shrunk_space import allowed_ops_mask
from harness.space import NUM_EDGES, NUM_OPS, parse_archs
from harness.space.ops import EDGES, NONE, NUM_NODES

SAMPLINGS = ("urs", "spos")


class CellSampler:
    """Draws cells uniformly from a space given as allowed ops per edge (6 lists of op names or ids; uniform per
    edge is uniform over their product) or as an explicit list of arch strings (shrinking and EPS need both)."""

    def __init__(self, allowed: list | None = None, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.cells = None
        self.choices = [np.arange(NUM_OPS)] * NUM_EDGES
        if allowed is None:
            return
        if allowed and all(isinstance(a, str) and a.startswith("|") for a in allowed):
            self.cells = parse_archs(allowed, what="cells of the sub-space")
            return
        mask = allowed_ops_mask(allowed)
        self.choices = [np.flatnonzero(mask[e]) for e in range(NUM_EDGES)]

    def sample(self) -> np.ndarray:
        """One child, uniform over the space."""
        if self.cells is not None:
            return self.cells[self.rng.integers(len(self.cells))]
        return np.array([c[self.rng.integers(len(c))] for c in self.choices], dtype=np.int8)

    def sample_urs(self, n_cells: int) -> np.ndarray:
        """(n_cells, 6): one child per searchable cell, by NB201's `forward_urs` rule (see the module docstring).
        A sub-space given as a list of cells has no per-edge choices: each searchable cell draws a member."""
        if self.cells is not None:
            return self.cells[self.rng.integers(len(self.cells), size=n_cells)]
        out = np.empty((n_cells, NUM_EDGES), dtype=np.int8)
        for row in out:
            for node in range(1, NUM_NODES):
                edges = [e for e, (to, _) in enumerate(EDGES) if to == node]
                redraw = any((self.choices[e] != NONE).any() for e in edges)  # else `none` is all there is
                while True:
                    for e in edges:
                        row[e] = self.choices[e][self.rng.integers(len(self.choices[e]))]
                    if not redraw or (row[edges] != NONE).any():
                        break
        return out

    def state_dict(self) -> dict:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state
