"""Uniform single-path sampling (SPOS) over the whole space or a sub-space, with a state that resumes exactly."""
from __future__ import annotations

import numpy as np

from harness.analysis.shrunk_space import allowed_ops_mask
from harness.space import NUM_EDGES, NUM_OPS, parse_archs


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
        if self.cells is not None:
            return self.cells[self.rng.integers(len(self.cells))]
        return np.array([c[self.rng.integers(len(c))] for c in self.choices], dtype=np.int8)

    def state_dict(self) -> dict:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state
